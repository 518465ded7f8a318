CREATE TABLE `idempotency_keys` (
	`scope` text PRIMARY KEY NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `room_events` (
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`event_type` text NOT NULL,
	`agent_key` text,
	`turn_id` text,
	`payload` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`room_id`, `seq`),
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `room_messages` (
	`id` text PRIMARY KEY NOT NULL,
	`room_id` text NOT NULL,
	`seq` integer NOT NULL,
	`kind` text NOT NULL,
	`author_kind` text NOT NULL,
	`author_id` text NOT NULL,
	`actor_key` text,
	`content` text NOT NULL,
	`metadata` text NOT NULL,
	`status` text NOT NULL,
	`turn_id` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `room_messages_room_seq_uq` ON `room_messages` (`room_id`,`seq`);--> statement-breakpoint
CREATE TABLE `room_turns` (
	`id` text PRIMARY KEY NOT NULL,
	`room_id` text NOT NULL,
	`message_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`status` text NOT NULL,
	`started_at` text NOT NULL,
	`ended_at` text,
	`usage` text,
	`error` text,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `room_turns_status_idx` ON `room_turns` (`status`);--> statement-breakpoint
CREATE INDEX `room_turns_room_idx` ON `room_turns` (`room_id`,`started_at`);--> statement-breakpoint
CREATE TABLE `rooms` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`purpose` text,
	`name` text,
	`metadata` text NOT NULL,
	`actors` text NOT NULL,
	`tool_policy` text NOT NULL,
	`wake_policy` text NOT NULL,
	`done_policy` text NOT NULL,
	`version` integer NOT NULL,
	`rented_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`last_active_at` text,
	`released_at` text,
	`last_error` text,
	`queued_message_id` text,
	`active_turn` text,
	`usage` text NOT NULL,
	`summary_text` text,
	`created_by` text NOT NULL,
	`sleep_at` text,
	`release_at` text,
	`last_event_seq` integer DEFAULT 0 NOT NULL,
	`last_message_seq` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `rooms_status_rented_idx` ON `rooms` (`status`,`rented_at`,`id`);--> statement-breakpoint
CREATE INDEX `rooms_rented_idx` ON `rooms` (`rented_at`,`id`);--> statement-breakpoint
CREATE INDEX `rooms_sleep_at_idx` ON `rooms` (`sleep_at`);--> statement-breakpoint
CREATE INDEX `rooms_release_at_idx` ON `rooms` (`release_at`);--> statement-breakpoint
CREATE TABLE `token_usage_daily` (
	`day` text PRIMARY KEY NOT NULL,
	`tokens` integer DEFAULT 0 NOT NULL
);
