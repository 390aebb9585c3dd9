-- +goose Up
-- Cadence templates: named cadences an admin applies to many survivors at
-- once (each survivor's future check-ins are replaced, as by an edit).
CREATE TABLE cadence_templates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 80),
    phases      jsonb NOT NULL,
    created_by  uuid REFERENCES staff (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE cadence_templates;
