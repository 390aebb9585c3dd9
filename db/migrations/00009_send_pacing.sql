-- +goose Up
-- Send pacing (jobs/pacing.go): how many routine check-in sends each
-- channel's time bucket already holds. The planner hands out send times
-- from these buckets in its own transaction, so successive ticks and
-- processes never hand out the same capacity twice. Rows hold no personal
-- data; buckets in the past are deleted as the planner goes.
CREATE TABLE send_pacing (
    channel   text        NOT NULL CHECK (channel IN ('sms', 'voice')),
    starts_at timestamptz NOT NULL,
    taken     integer     NOT NULL CHECK (taken > 0),
    PRIMARY KEY (channel, starts_at)
);

-- +goose Down
DROP TABLE send_pacing;
