CREATE TABLE `room_usage` (
	`id` integer PRIMARY KEY NOT NULL,
	`room_id` text NOT NULL,
	`kind` text NOT NULL,
	`turn_id` text,
	`message_id` text,
	`agent_id` text NOT NULL,
	`provider` text NOT NULL,
	`model` text NOT NULL,
	`input` integer NOT NULL,
	`output` integer NOT NULL,
	`total_tokens` integer NOT NULL,
	`cost_usd` real NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `room_usage_room_idx` ON `room_usage` (`room_id`,`id`);--> statement-breakpoint
ALTER TABLE `rooms` ADD `budget` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `summary_every_turns` integer;--> statement-breakpoint
ALTER TABLE `rooms` ADD `summary_updated_at` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `summary_usage_mark` integer;--> statement-breakpoint
ALTER TABLE `token_usage_daily` ADD `provider` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `token_usage_daily` ADD `model` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `token_usage_daily` ADD `input` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `token_usage_daily` ADD `output` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `token_usage_daily` ADD `cost_usd` real DEFAULT 0 NOT NULL;