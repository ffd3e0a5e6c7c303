-- vidpipe fencing tokens (docs/status.md#fencing): every claim returns a fresh token, and
-- complete, fail, release and heartbeat take effect only with the stage's current token, so a
-- worker whose lease expired (and was taken over) can no longer finish, fail or release the stage
-- under the new holder.
--
-- Idempotent, like the earlier migrations: safe to run again, also after them. The fenced
-- functions take the token as `uuid`, so their signatures differ from the unfenced ones of
-- 20261123000000_status.sql (which took a `text` worker id); those are dropped below, so only
-- the fenced ones can be called.

alter table public.video_stages add column if not exists lease_token uuid;

-- Claim a stage. As before, but a live lease is held whoever asks (the same worker id included:
-- the same SQS message twice in one batch must not run twice), and a win returns a new token.
create or replace function public.vidpipe_claim_stage(
    p_platform text, p_shortcode text, p_stage text, p_worker_id text, p_lease_seconds double precision
) returns jsonb
language plpgsql
set search_path = public
as $$
declare
    r public.video_stages%rowtype;
    tok uuid := gen_random_uuid();
begin
    insert into public.video_stages (platform, shortcode, stage)
    values (p_platform, p_shortcode, p_stage)
    on conflict (platform, shortcode, stage) do nothing;

    select * into r from public.video_stages
     where platform = p_platform and shortcode = p_shortcode and stage = p_stage
       for update;

    if r.status = 'succeeded' then
        return jsonb_build_object('outcome', 'already_succeeded', 'attempts', r.attempts);
    end if;
    if r.status = 'processing' and r.lease_expires_at > clock_timestamp() then
        return jsonb_build_object('outcome', 'held', 'attempts', r.attempts);
    end if;

    update public.video_stages
       set status = 'processing', attempts = r.attempts + 1, worker_id = p_worker_id,
           lease_token = tok,
           lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds),
           started_at = clock_timestamp(), finished_at = null, updated_at = clock_timestamp()
     where platform = p_platform and shortcode = p_shortcode and stage = p_stage;
    return jsonb_build_object('outcome', 'claimed', 'attempts', r.attempts + 1, 'token', tok);
end;
$$;

-- Mark a stage succeeded, only for the current holder (the token of the last claim, the stage
-- still processing); for frame-extract also set the seed columns of `videos`.
create or replace function public.vidpipe_complete_stage(
    p_platform text, p_shortcode text, p_stage text, p_token uuid,
    p_output_prefix text, p_metrics jsonb, p_frame_count integer default null
) returns jsonb
language plpgsql
set search_path = public
as $$
begin
    update public.video_stages
       set status = 'succeeded', lease_expires_at = null, lease_token = null,
           finished_at = clock_timestamp(), output_prefix = p_output_prefix,
           metrics = coalesce(p_metrics, '{}'::jsonb), last_error = null,
           updated_at = clock_timestamp()
     where platform = p_platform and shortcode = p_shortcode and stage = p_stage
       and lease_token = p_token and status = 'processing';
    if not found then
        return jsonb_build_object('ok', false);
    end if;
    if p_stage = 'frame-extract' then
        insert into public.videos as v (platform, shortcode, is_downloaded, is_extracted,
                                        frame_count, updated_at)
        values (p_platform, p_shortcode, true, true, p_frame_count, clock_timestamp())
        on conflict (platform, shortcode) do update
           set is_downloaded = true, is_extracted = true, frame_count = excluded.frame_count,
               updated_at = excluded.updated_at;
    end if;
    return jsonb_build_object('ok', true);
end;
$$;

-- Record an error row (always: it is the history of that attempt) and, for the current holder
-- only, set the stage 'failed' (permanent) or back to 'pending' (retryable).
create or replace function public.vidpipe_fail_stage(
    p_platform text, p_shortcode text, p_stage text, p_token uuid,
    p_error_class text, p_message text, p_retryable boolean,
    p_attempt integer default null, p_request_id text default null
) returns jsonb
language plpgsql
set search_path = public
as $$
declare
    applied boolean;
begin
    update public.video_stages
       set status = case when p_retryable then 'pending' else 'failed' end,
           lease_expires_at = null, lease_token = null, finished_at = clock_timestamp(),
           last_error = p_error_class || ': ' || p_message, updated_at = clock_timestamp()
     where platform = p_platform and shortcode = p_shortcode and stage = p_stage
       and lease_token = p_token and status = 'processing';
    applied := found;
    insert into public.extraction_errors (platform, shortcode, stage, error_class, message,
                                          retryable, attempt, request_id)
    values (p_platform, p_shortcode, p_stage, p_error_class, p_message, p_retryable,
            p_attempt, p_request_id);
    return jsonb_build_object('ok', applied);
end;
$$;

-- Give a lease back without counting an error (the out-of-time path); only the current holder.
create or replace function public.vidpipe_release_stage(
    p_platform text, p_shortcode text, p_stage text, p_token uuid
) returns jsonb
language sql
set search_path = public
as $$
    with released as (
        update public.video_stages
           set status = 'pending', lease_expires_at = null, worker_id = null, lease_token = null,
               updated_at = clock_timestamp()
         where platform = p_platform and shortcode = p_shortcode and stage = p_stage
           and lease_token = p_token and status = 'processing'
        returning 1
    )
    select jsonb_build_object('released', exists (select 1 from released));
$$;

-- Extend the current holder's lease to now + p_lease_seconds; ok = false for anyone else.
create or replace function public.vidpipe_heartbeat_stage(
    p_platform text, p_shortcode text, p_stage text, p_token uuid, p_lease_seconds double precision
) returns jsonb
language sql
set search_path = public
as $$
    with renewed as (
        update public.video_stages
           set lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds),
               updated_at = clock_timestamp()
         where platform = p_platform and shortcode = p_shortcode and stage = p_stage
           and lease_token = p_token and status = 'processing'
        returning 1
    )
    select jsonb_build_object('ok', exists (select 1 from renewed));
$$;

-- A skipped stage keeps no token.
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
       set status = 'skipped', worker_id = null, lease_expires_at = null, lease_token = null,
           finished_at = clock_timestamp(), last_error = p_reason, updated_at = clock_timestamp()
     where platform = p_platform and shortcode = p_shortcode and stage = p_stage;
    return jsonb_build_object('skipped', true);
end;
$$;

-- The unfenced versions (a text worker id instead of the token) must not stay callable.
drop function if exists public.vidpipe_complete_stage(text, text, text, text, text, jsonb, integer);
drop function if exists public.vidpipe_fail_stage(text, text, text, text, text, text, boolean, integer, text);
drop function if exists public.vidpipe_release_stage(text, text, text, text);

revoke all on function public.vidpipe_claim_stage(text, text, text, text, double precision) from public, anon, authenticated;
revoke all on function public.vidpipe_complete_stage(text, text, text, uuid, text, jsonb, integer) from public, anon, authenticated;
revoke all on function public.vidpipe_fail_stage(text, text, text, uuid, text, text, boolean, integer, text) from public, anon, authenticated;
revoke all on function public.vidpipe_release_stage(text, text, text, uuid) from public, anon, authenticated;
revoke all on function public.vidpipe_heartbeat_stage(text, text, text, uuid, double precision) from public, anon, authenticated;
revoke all on function public.vidpipe_skip_stage(text, text, text, text) from public, anon, authenticated;
grant execute on function public.vidpipe_claim_stage(text, text, text, text, double precision) to service_role;
grant execute on function public.vidpipe_complete_stage(text, text, text, uuid, text, jsonb, integer) to service_role;
grant execute on function public.vidpipe_fail_stage(text, text, text, uuid, text, text, boolean, integer, text) to service_role;
grant execute on function public.vidpipe_release_stage(text, text, text, uuid) to service_role;
grant execute on function public.vidpipe_heartbeat_stage(text, text, text, uuid, double precision) to service_role;
grant execute on function public.vidpipe_skip_stage(text, text, text, text) to service_role;
