-- room_events is read and written only by its primary key (room_id, seq).
-- As a rowid table it kept that key twice: in the table and again in the
-- sqlite_autoindex_room_events_1 index (about 0.8 bytes per character of
-- model output in the storage bench). WITHOUT ROWID stores rows in the key's
-- own b-tree, so the index disappears and range reads by seq are one scan.
CREATE TABLE `__new_room_events` (
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`event_type` text NOT NULL,
	`agent_key` text,
	`turn_id` text,
	`payload` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`room_id`, `seq`),
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_room_events` (`room_id`, `seq`, `event_type`, `agent_key`, `turn_id`, `payload`, `created_at`)
	SELECT `room_id`, `seq`, `event_type`, `agent_key`, `turn_id`, `payload`, `created_at` FROM `room_events`;
--> statement-breakpoint
DROP TABLE `room_events`;
--> statement-breakpoint
ALTER TABLE `__new_room_events` RENAME TO `room_events`;
