CREATE TABLE `room_event_segments` (
	`id` integer PRIMARY KEY NOT NULL,
	`room_id` text NOT NULL,
	`first_seq` integer NOT NULL,
	`last_seq` integer NOT NULL,
	`events` blob NOT NULL,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `room_event_segments_room_last_uq` ON `room_event_segments` (`room_id`,`last_seq`);