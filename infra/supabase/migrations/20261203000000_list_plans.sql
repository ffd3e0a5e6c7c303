-- vidpipe: page through the plans newest first (docs/status.md, docs/api.md `GET /videos`).
--
-- Keyset paging: the caller passes the last row of the previous page (created_at, platform,
-- shortcode) and gets the rows after it in (created_at, platform, shortcode) descending order.
-- Idempotent, like the other migrations: safe to run again.

create index if not exists video_plans_newest
    on public.video_plans (created_at desc, platform desc, shortcode desc);

create or replace function public.vidpipe_list_plans(
    p_platform text default null, p_state text default null, p_limit integer default 50,
    p_after_created_at timestamptz default null, p_after_platform text default null,
    p_after_shortcode text default null
) returns jsonb
language sql
stable
set search_path = public
as $$
    select coalesce(
               jsonb_agg(to_jsonb(p) order by p.created_at desc, p.platform desc, p.shortcode desc),
               '[]'::jsonb)
      from (select * from public.video_plans
             where (p_platform is null or platform = p_platform)
               and (p_state is null or state = p_state)
               and (p_after_created_at is null
                    or (created_at, platform, shortcode)
                       < (p_after_created_at, p_after_platform, p_after_shortcode))
             order by created_at desc, platform desc, shortcode desc
             limit greatest(1, least(coalesce(p_limit, 50), 1000))) p;
$$;

revoke all on function public.vidpipe_list_plans(text, text, integer, timestamptz, text, text) from public, anon, authenticated;
grant execute on function public.vidpipe_list_plans(text, text, integer, timestamptz, text, text) to service_role;
