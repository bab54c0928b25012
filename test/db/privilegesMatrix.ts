/**
 * The privileges matrix: what each application role may do on every table and view in schema public,
 * and which roles may execute every function there. test/db/privileges.test.ts reads the catalogue and
 * compares it with this, both ways: a new table, view or function without a row here fails the test, and
 * so does a grant (or a revoke) nobody wrote down. Change a grant in a migration, then here, on purpose.
 *
 * A relation's privileges are four characters, SELECT INSERT UPDATE DELETE in that order: the capital
 * letter for the whole table, the small one for some columns only (a column grant), '-' for none.
 * `rls` says whether row-level security is enabled (the policies then narrow the rows further; the
 * behavioural tests in privileges.test.ts exercise them).
 */

/** The roles the application runs as; every NOLOGIN lodestar_* role must be one of them. */
export const matrixRoles = {
  app: 'lodestar_app',
  service: 'lodestar_service',
  worker: 'lodestar_worker',
} as const;

export type MatrixRole = keyof typeof matrixRoles;

export interface RelationRow {
  rls: boolean;
  app: string;
  service: string;
  worker: string;
}

export const relationPrivileges: Record<string, RelationRow> = {
  _prisma_migrations: { rls: false, app: 'S---', service: '----', worker: '----' },
  categories: { rls: false, app: 'S---', service: 'S---', worker: 'S---' },
  comments: { rls: true, app: 'SiuD', service: '----', worker: '----' },
  // Account erasures (issue #19): admins read them (RLS), the role lookup reads whose are open (one
  // column); every write goes through request_user_erasure and the worker's erasure_* functions.
  erasure_requests: { rls: true, app: 'S---', service: 's---', worker: '----' },
  events_queue: { rls: true, app: 'SIU-', service: '----', worker: 'S-u-' },
  experiments: { rls: true, app: 'SIU-', service: 'S---', worker: '----' },
  feature_flag_history: { rls: true, app: 'SI--', service: '----', worker: 'SI--' },
  feature_flags: { rls: true, app: 'SIU-', service: '----', worker: 'S-u-' },
  // Learned ranking weights: the worker's ranker_training writes them, the feed's service path reads them.
  feed_ranker_models: { rls: false, app: '----', service: 'S---', worker: 'SI-D' },
  // The feed's per-viewer candidate cache (issue #17): written and read by the feed statement only.
  feed_viewer_candidates: { rls: false, app: '----', service: 'SIU-', worker: '----' },
  flag_exposure_stats: { rls: false, app: 'SI--', service: '----', worker: 'S---' },
  flag_problem_reports: { rls: true, app: 'SI--', service: '----', worker: 'S---' },
  follows: { rls: true, app: 'Si-D', service: '----', worker: '----' },
  hidden_listings: { rls: true, app: 'Si-D', service: 'S---', worker: '----' },
  idempotency_keys: { rls: true, app: 'SIuD', service: '----', worker: '----' },
  intent_signals: { rls: true, app: 'Si-D', service: '----', worker: '----' },
  // Written by the catalogue API under a service or admin identity only (RLS).
  interest_catalog: { rls: true, app: 'Siu-', service: 'S---', worker: 'S---' },
  // The bulk importer's checkpoints: written by the owner only (npm run import connects as the owner).
  import_checkpoints: { rls: false, app: '----', service: '----', worker: '----' },
  interest_listing_candidates: { rls: false, app: 'S---', service: 'S---', worker: 'SI-D' },
  kernel_latency: { rls: false, app: 'SI--', service: '----', worker: '----' },
  learning_events: { rls: true, app: '----', service: '-i--', worker: '----' },
  // Derived "liked together" (issue #16): read by the feed; written only through the coengagement_* functions.
  listing_coengagement: { rls: false, app: 'S---', service: 'S---', worker: '----' },
  likes: { rls: true, app: 'Si-D', service: 'S---', worker: '----' },
  maintenance_runs: { rls: false, app: '----', service: '----', worker: 'SIU-' },
  marketplace_discovery_queue: { rls: true, app: 'SIU-', service: '----', worker: 'Siu-' },
  marketplace_listings: { rls: true, app: 'Siu-', service: 'S---', worker: 'S-u-' },
  ops_audit: { rls: true, app: 'SI--', service: '----', worker: '-I--' },
  // The ops console's history (issue #20): admins read it (RLS); only ops_snapshot_history() writes it.
  ops_history: { rls: true, app: 'S---', service: '----', worker: '----' },
  ops_backfills: { rls: true, app: 'SIU-', service: '----', worker: '----' },
  // The worker reads profiles(user_id, embedding) only, to measure the profiles vector index's recall.
  profiles: { rls: true, app: 'SiuD', service: 'S---', worker: 's---' },
  public_comments: { rls: false, app: 'S---', service: '----', worker: '----' },
  public_profiles: { rls: false, app: 'S---', service: '----', worker: '----' },
  user_interests: { rls: true, app: 'SiuD', service: 'S---', worker: '----' },
  // The app writes it only under an admin identity (RLS); the worker for its rebuild/recall tasks.
  vector_index_state: { rls: true, app: 'SIU-', service: '----', worker: 'SIU-' },
  vw_discovery_queue_health: { rls: false, app: 'S---', service: '----', worker: 'S---' },
  vw_events_queue_health: { rls: false, app: 'S---', service: '----', worker: 'S---' },
  vw_gap_severity: { rls: false, app: 'S---', service: '----', worker: 'S---' },
  vw_kernel_slos: { rls: false, app: 'S---', service: '----', worker: '----' },
  vw_table_bloat: { rls: false, app: 'S---', service: '----', worker: '----' },
};

/** Functions by identity signature (regprocedure), with the roles that may execute them. */
export const functionExecute: Record<string, MatrixRole[]> = {
  'analyze_changed_hot_tables(bigint,double precision)': ['app', 'worker'],
  'analyze_hot_tables()': ['app'],
  'app_current_role()': ['app', 'service', 'worker'],
  'app_current_user_id()': ['app', 'service', 'worker'],
  'app_is_owner_session()': ['app', 'service', 'worker'],
  'app_is_privileged()': ['app', 'service', 'worker'],
  'app_require_maintainer(text)': [],
  'app_setting_interval(text,interval)': ['app', 'service', 'worker'],
  'coengagement_apply_like(uuid,integer,integer,integer,integer,integer)': ['worker'],
  'coengagement_check_params(integer,integer,integer)': [],
  'coengagement_rebuild_batch(integer,integer,integer,integer,integer)': ['worker'],
  // Event-log partitions (issue #18): made ahead by the worker's maintenance (or an admin); health for ops.
  'create_event_partitions(interval,timestamp with time zone)': ['app', 'worker'],
  'decay_interest_affinity(timestamp with time zone)': ['app', 'worker'],
  'engagement_weight(text)': [],
  'event_log_create_partitions(regclass,timestamp with time zone,timestamp with time zone,interval)': [],
  'event_log_gc(regclass,timestamp with time zone,integer,bigint,interval)': [],
  'event_log_partitions(regclass)': [],
  'event_log_week(timestamp with time zone)': [],
  'event_partition_health()': ['app', 'worker'],
  // The privacy export (issue #19): a person's (or, for an admin identity, anyone's) rows the app role
  // cannot read under RLS; export_require_access is their shared check, called only from inside them.
  // Account erasure (issue #19): the person or an admin asks; only the worker carries it out.
  'erasure_claim(integer)': ['worker'],
  'erasure_fail(bigint,uuid,text,integer)': ['worker'],
  'erasure_renew(bigint,uuid,integer)': ['worker'],
  // Called only from inside erasure_step.
  'erasure_scrub_jsonb(jsonb,uuid,uuid,text)': [],
  'erasure_scrub_text(text,uuid,uuid,text)': [],
  'erasure_step(bigint,uuid,integer,integer,integer,integer,integer,integer)': ['worker'],
  'request_user_erasure(uuid)': ['app'],
  'export_feed_candidates(uuid)': ['app'],
  'export_idempotency_keys(uuid,text,integer)': ['app'],
  'export_learning_events(uuid,timestamp with time zone,uuid,integer)': ['app'],
  'export_require_access(uuid)': [],
  'gc_batched(regclass,timestamp with time zone,integer,bigint)': [],
  'gc_done_queue_items(interval,integer)': ['app', 'worker'],
  'gc_idempotency_keys(interval,integer)': ['app', 'worker'],
  'gc_intent_signals(interval,integer,bigint)': ['app', 'worker'],
  'gc_learning_events(interval,integer,bigint)': ['app', 'worker'],
  'gc_ops_telemetry(interval,integer)': ['app', 'worker'],
  'hide_listing(integer)': ['app'],
  'kernel_slos(interval)': ['app', 'service', 'worker'],
  'learning_arm_stats(timestamp with time zone)': ['service'],
  'learning_arm_stats(timestamp with time zone,integer)': ['service'],
  'learning_policy_report(timestamp with time zone)': ['service'],
  'listing_features(integer[])': ['service'],
  'ops_alert_values()': ['app'],
  'ops_snapshot_history()': ['app', 'worker'],
  'profile_embedding_of(uuid)': [],
  'profile_half_life_seconds()': [],
  'rebuild_ivfflat_index(text,integer)': ['worker'],
  'recently_served_listings(uuid,interval,text)': ['service'],
  'ranker_training_events(integer,timestamp with time zone,interval,integer)': ['worker'],
  'ranker_training_rows(integer,timestamp with time zone,interval,integer)': ['worker'],
  'recompute_profile_embedding(uuid)': ['app', 'worker'],
  'record_learning_reward(uuid,double precision)': ['app', 'service'],
  'reinforce_listing_interests(uuid,integer,real)': ['worker'],
  'request_profile_recompute(uuid)': ['worker'],
  'set_updated_at()': ['app', 'service', 'worker'],
  'trg_comments_count()': [],
  'trg_feature_flags_guard_raise()': ['app', 'service', 'worker'],
  'trg_follows_count()': [],
  'trg_likes_count()': [],
  'trg_likes_reward()': [],
  'trg_profiles_guard_role()': ['app', 'service', 'worker'],
  'trg_queue_notify()': ['app', 'service', 'worker'],
  'user_features(uuid[])': ['service'],
  'uuid_v7_time(uuid)': [],
};
