-- vidpipe plans (docs/plans.md): one plan per upload with its overall state, and the `skipped`
-- stage status for stages whose dependency failed.
--
-- Idempotent, like the first migration: safe to run again.

-- ------------------------------------------------------------------------ stage status
alter table public.video_stages drop constraint if exists video_stages_status_check;
alter table public.video_stages add constraint video_stages_status_check
    check (status in ('pending', 'processing', 'succeeded', 'failed', 'skipped'));

-- ---------------------------------------------------------------------------- video_plans
create table if not exists public.video_plans (
    platform    text        not null,
    shortcode   text        not null,
    upload_id   text        not null,
    stages      jsonb       not null,
    options     jsonb       not null default '{}'::jsonb,
    state       text        not null default 'running'
                check (state in ('running', 'succeeded', 'failed', 'partial')),
    notified    boolean     not null default false,
    created_at  timestamptz not null default now(),
    finished_at timestamptz,
    primary key (platform, shortcode)
);
alter table public.video_plans enable row level security;

-- Record an upload's plan. The same upload again: the stored plan, unchanged ('existing').
-- Another upload at the same key: the plan is replaced and the video's stage rows and seed
-- extraction columns reset ('replaced'). The row lock makes concurrent starts queue up.
create or replace function public.vidpipe_start_plan(
    p_platform text, p_shortcode text, p_upload_id text, p_stages jsonb, p_options jsonb
) returns jsonb
language plpgsql
set search_path = public
as $$
declare
    r public.video_plans%rowtype;
    outcome text;
begin
    insert into public.video_plans (platform, shortcode, upload_id, stages, options)
    values (p_platform, p_shortcode, p_upload_id, p_stages, coalesce(p_options, '{}'::jsonb))
    on conflict (platform, shortcode) do nothing;
    if found then
        outcome := 'created';
    else
        select * into r from public.video_plans
         where platform = p_platform and shortcode = p_shortcode for update;
        if r.upload_id = p_upload_id then
            outcome := 'existing';
        else
            delete from public.video_stages where platform = p_platform and shortcode = p_shortcode;
            update public.videos set is_extracted = false, frame_count = null,
                   updated_at = clock_timestamp()
             where platform = p_platform and shortcode = p_shortcode;
            update public.video_plans
               set upload_id = p_upload_id, stages = p_stages,
                   options = coalesce(p_options, '{}'::jsonb), state = 'running',
                   notified = false, created_at = clock_timestamp(), finished_at = null
             where platform = p_platform and shortcode = p_shortcode;
            outcome := 'replaced';
        end if;
    end if;
    select * into r from public.video_plans where platform = p_platform and shortcode = p_shortcode;
    return jsonb_build_object('outcome', outcome, 'plan', to_jsonb(r));
end;
$$;

-- End a stage that will not run because one it needs failed; not when it is processing under a
-- live lease or already final.
create or replace function public.vidpipe_skip_stage(
    p_platform text, p_shortcode text, p_stage text, p_reason text
) returns jsonb
language plpgsql
set search_path = public
as $$
declare
    r public.video_stages%rowtype;
begin
    insert into public.video_stages (platform, shortcode, stage)
    values (p_platform, p_shortcode, p_stage)
    on conflict (platform, shortcode, stage) do nothing;
    select * into r from public.video_stages
     where platform = p_platform and shortcode = p_shortcode and stage = p_stage for update;
    if r.status in ('succeeded', 'failed', 'skipped')
       or (r.status = 'processing' and r.lease_expires_at > clock_timestamp()) then
        return jsonb_build_object('skipped', false);
    end if;
    update public.video_stages
       set status = 'skipped', worker_id = null, lease_expires_at = null,
           finished_at = clock_timestamp(), last_error = p_reason, updated_at = clock_timestamp()
     where platform = p_platform and shortcode = p_shortcode and stage = p_stage;
    return jsonb_build_object('skipped', true);
end;
$$;

-- Move a running plan to its final state; exactly one caller gets finished = true.
create or replace function public.vidpipe_finish_plan(
    p_platform text, p_shortcode text, p_upload_id text, p_state text
) returns jsonb
language sql
set search_path = public
as $$
    with done as (
        update public.video_plans set state = p_state, finished_at = clock_timestamp()
         where platform = p_platform and shortcode = p_shortcode and upload_id = p_upload_id
           and state = 'running'
        returning 1
    )
    select jsonb_build_object('finished', exists (select 1 from done));
$$;

-- Record that the completion event of an upload was published.
create or replace function public.vidpipe_mark_notified(
    p_platform text, p_shortcode text, p_upload_id text
) returns jsonb
language sql
set search_path = public
as $$
    update public.video_plans set notified = true
     where platform = p_platform and shortcode = p_shortcode and upload_id = p_upload_id;
    select jsonb_build_object('ok', true);
$$;

revoke all on function public.vidpipe_start_plan(text, text, text, jsonb, jsonb) from public, anon, authenticated;
revoke all on function public.vidpipe_skip_stage(text, text, text, text) from public, anon, authenticated;
revoke all on function public.vidpipe_finish_plan(text, text, text, text) from public, anon, authenticated;
revoke all on function public.vidpipe_mark_notified(text, text, text) from public, anon, authenticated;
grant execute on function public.vidpipe_start_plan(text, text, text, jsonb, jsonb) to service_role;
grant execute on function public.vidpipe_skip_stage(text, text, text, text) to service_role;
grant execute on function public.vidpipe_finish_plan(text, text, text, text) to service_role;
grant execute on function public.vidpipe_mark_notified(text, text, text) to service_role;
grant select, insert, update, delete on public.video_plans to service_role;
