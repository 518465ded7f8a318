PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_token_usage_daily` (
	`day` text NOT NULL,
	`provider` text DEFAULT '' NOT NULL,
	`model` text DEFAULT '' NOT NULL,
	`input` integer DEFAULT 0 NOT NULL,
	`output` integer DEFAULT 0 NOT NULL,
	`tokens` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`day`, `provider`, `model`)
);
--> statement-breakpoint
INSERT INTO `__new_token_usage_daily`("day", "provider", "model", "input", "output", "tokens", "cost_usd") SELECT "day", "provider", "model", "input", "output", "tokens", "cost_usd" FROM `token_usage_daily`;--> statement-breakpoint
DROP TABLE `token_usage_daily`;--> statement-breakpoint
ALTER TABLE `__new_token_usage_daily` RENAME TO `token_usage_daily`;--> statement-breakpoint
PRAGMA foreign_keys=ON;