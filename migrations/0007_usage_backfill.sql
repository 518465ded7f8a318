-- DATA STEP (hand-written, not generated): the room_usage ledger (0005) for turns that ended before it existed.
-- One row per ended turn from room_turns.usage, so GET /llm/room/:id/usage sums to the room record's usage for
-- rooms older than the ledger. Provider and model are the actor's in the room's roster as it is now ('' when
-- the actor is no longer in it; GET /usage reports those as null). Running turns are left out: recovery ends
-- them through finishTurn, which writes their row. Nothing here touches token_usage_daily (0006 kept its rows).
INSERT INTO `room_usage` (`room_id`, `kind`, `turn_id`, `message_id`, `agent_id`, `provider`, `model`, `input`, `output`, `total_tokens`, `cost_usd`, `created_at`)
SELECT
	t.`room_id`, 'turn', t.`id`, t.`message_id`, t.`agent_id`,
	coalesce((SELECT json_extract(a.value, '$.provider') FROM `rooms` r, json_each(r.`actors`) a WHERE r.`id` = t.`room_id` AND json_extract(a.value, '$.agent_id') = t.`agent_id`), ''),
	coalesce((SELECT json_extract(a.value, '$.model') FROM `rooms` r, json_each(r.`actors`) a WHERE r.`id` = t.`room_id` AND json_extract(a.value, '$.agent_id') = t.`agent_id`), ''),
	coalesce(json_extract(t.`usage`, '$.input'), 0),
	coalesce(json_extract(t.`usage`, '$.output'), 0),
	coalesce(json_extract(t.`usage`, '$.totalTokens'), 0),
	coalesce(json_extract(t.`usage`, '$.cost.total'), 0),
	coalesce(t.`ended_at`, t.`started_at`)
FROM `room_turns` t
WHERE t.`status` != 'running' AND t.`id` NOT IN (SELECT `turn_id` FROM `room_usage` WHERE `turn_id` IS NOT NULL)
ORDER BY coalesce(t.`ended_at`, t.`started_at`), t.`id`;
