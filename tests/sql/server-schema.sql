-- The orchestrator server's two tables, as its SQLite adapter created them.
CREATE TABLE orchestrator_runs (
    id              TEXT PRIMARY KEY NOT NULL,
    goal            TEXT NOT NULL,
    graph_json      TEXT,
    status          TEXT NOT NULL,
    hitl_mode       TEXT NOT NULL,
    conversation_id INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX idx_orchestrator_runs_status ON orchestrator_runs (status);
CREATE INDEX idx_orchestrator_runs_created_at ON orchestrator_runs (created_at);

CREATE TABLE orchestrator_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL REFERENCES orchestrator_runs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    event_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    wave_index INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, seq)
);
CREATE INDEX idx_orchestrator_events_run_seq ON orchestrator_events (run_id, seq);
CREATE INDEX idx_orchestrator_events_run_wave ON orchestrator_events (run_id, wave_index);
