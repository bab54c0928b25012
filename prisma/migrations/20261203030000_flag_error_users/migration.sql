-- Per-user error attribution for rollout decisions (issue #13, item 5): each exposure row also says
-- which users had the server errors it counts, and how many each. evaluateRollouts caps each user's
-- errors (FLAGS_MAX_ERRORS_PER_USER) and needs FLAGS_MIN_AFFECTED_USERS distinct users before an error
-- rate may roll a flag back, so one caller cannot force a rollback for everyone. Errors a gateway could
-- not attribute (more distinct users in one flush than it tracks) stay counted in `errors` only.
-- Constant defaults: no table rewrite; existing rows read as "no attributed errors".
ALTER TABLE flag_exposure_stats
  ADD COLUMN error_user_ids    uuid[]    NOT NULL DEFAULT '{}',
  ADD COLUMN error_user_counts integer[] NOT NULL DEFAULT '{}',
  ADD CONSTRAINT flag_exposure_stats_error_users_valid
    CHECK (cardinality(error_user_ids) = cardinality(error_user_counts)
           AND array_position(error_user_ids, NULL) IS NULL
           AND 0 < ALL (error_user_counts));
