CREATE TABLE `stream_events_journal` (
	`kind` text NOT NULL,
	`stream_id` text NOT NULL,
	`seq` integer NOT NULL,
	`event_type` text NOT NULL,
	`agent_key` text,
	`turn_id` text,
	`payload` text NOT NULL,
	`created_at` text NOT NULL
);
