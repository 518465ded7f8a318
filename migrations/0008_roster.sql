CREATE TABLE `room_context` (
	`id` text PRIMARY KEY NOT NULL,
	`room_id` text NOT NULL,
	`name` text NOT NULL,
	`content` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `room_context_room_idx` ON `room_context` (`room_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `room_messages` ADD `sequence` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `addressing` text DEFAULT 'first_unmuted' NOT NULL;