-- Copies the runs and events of a council-idb export into the server's tables.
-- The export's lines must be in export_lines(line TEXT), one row per line; the
-- header line and blank lines are skipped, any other line that is not JSON
-- stops the load. hitl_mode arrives in the server's form already (the JSON
-- text "approve_plan", quotes included).
DELETE FROM export_lines WHERE trim(line, ' ' || char(9, 13)) = '';

INSERT INTO orchestrator_runs
    (id, goal, graph_json, status, hitl_mode, conversation_id, created_at, updated_at)
SELECT json_extract(line, '$.orchestrator_runs.id'),
       json_extract(line, '$.orchestrator_runs.goal'),
       json_extract(line, '$.orchestrator_runs.graph_json'),
       json_extract(line, '$.orchestrator_runs.status'),
       json_extract(line, '$.orchestrator_runs.hitl_mode'),
       json_extract(line, '$.orchestrator_runs.conversation_id'),
       json_extract(line, '$.orchestrator_runs.created_at'),
       json_extract(line, '$.orchestrator_runs.updated_at')
FROM export_lines
WHERE json_type(line, '$.orchestrator_runs') = 'object';

INSERT INTO orchestrator_events (run_id, seq, event_json, created_at, wave_index)
SELECT json_extract(line, '$.orchestrator_events.run_id'),
       json_extract(line, '$.orchestrator_events.seq'),
       json_extract(line, '$.orchestrator_events.event_json'),
       json_extract(line, '$.orchestrator_events.created_at'),
       json_extract(line, '$.orchestrator_events.wave_index')
FROM export_lines
WHERE json_type(line, '$.orchestrator_events') = 'object';
