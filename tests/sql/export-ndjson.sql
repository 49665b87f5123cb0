-- The server's runs and events as council-idb export lines: the header, every
-- run, then every event by run and seq, then the end line with the counts. :exported_at, when bound, is the
-- header's time; unbound (NULL) it is now. An event line carries the row's
-- surrogate id too, which an import skips.
SELECT line FROM (
    SELECT 0 AS part, '' AS run_id, 0 AS seq,
           json_object('council_idb_export', json_object(
               'version', 1,
               'exported_at', coalesce(:exported_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
           )) AS line
    UNION ALL
    SELECT 1, id, 0,
           json_object('orchestrator_runs', json_object(
               'id', id, 'goal', goal, 'graph_json', graph_json, 'status', status,
               'hitl_mode', hitl_mode, 'conversation_id', conversation_id,
               'created_at', created_at, 'updated_at', updated_at
           ))
    FROM orchestrator_runs
    UNION ALL
    SELECT 2, run_id, seq,
           json_object('orchestrator_events', json_object(
               'id', id, 'run_id', run_id, 'seq', seq, 'event_json', event_json,
               'created_at', created_at, 'wave_index', wave_index
           ))
    FROM orchestrator_events
    UNION ALL
    SELECT 3, '', 0,
           json_object('council_idb_end', json_object(
               'runs', (SELECT count(*) FROM orchestrator_runs),
               'events', (SELECT count(*) FROM orchestrator_events)
           ))
)
ORDER BY part, run_id, seq;
