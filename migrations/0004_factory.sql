CREATE TABLE `factory_artifacts` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`ord` integer NOT NULL,
	`artifact_type` text NOT NULL,
	`version` integer NOT NULL,
	`producer_stage_id` text,
	`producer_issue_id` text,
	`payload` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `factory_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `factory_artifacts_run_ord_uq` ON `factory_artifacts` (`run_id`,`ord`);--> statement-breakpoint
CREATE UNIQUE INDEX `factory_artifacts_run_type_version_uq` ON `factory_artifacts` (`run_id`,`artifact_type`,`version`);--> statement-breakpoint
CREATE TABLE `factory_checkpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`ord` integer NOT NULL,
	`stage_id` text,
	`status` text NOT NULL,
	`branch_name` text NOT NULL,
	`worktree_path` text NOT NULL,
	`base_ref` text NOT NULL,
	`head_sha` text NOT NULL,
	`included_issue_ids` text NOT NULL,
	`merged_issue_ids` text NOT NULL,
	`conflict_issue_ids` text NOT NULL,
	`notes` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `factory_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `factory_checkpoints_run_ord_uq` ON `factory_checkpoints` (`run_id`,`ord`);--> statement-breakpoint
CREATE TABLE `factory_gate_verdicts` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`ord` integer NOT NULL,
	`gate_name` text NOT NULL,
	`verdict` text NOT NULL,
	`reasons` text NOT NULL,
	`source` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `factory_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `factory_gate_verdicts_run_ord_uq` ON `factory_gate_verdicts` (`run_id`,`ord`);--> statement-breakpoint
CREATE TABLE `factory_issues` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`stage_id` text NOT NULL,
	`ord` integer NOT NULL,
	`key` text NOT NULL,
	`title` text NOT NULL,
	`kind` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`depends_on` text NOT NULL,
	`acceptance_criteria` text NOT NULL,
	`verification_requirements` text NOT NULL,
	`assigned_room_id` text,
	`dispatch_message_id` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`summary` text,
	`notes` text NOT NULL,
	`verdicts` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `factory_runs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`stage_id`) REFERENCES `factory_stages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `factory_issues_run_ord_uq` ON `factory_issues` (`run_id`,`ord`);--> statement-breakpoint
CREATE INDEX `factory_issues_run_status_idx` ON `factory_issues` (`run_id`,`status`);--> statement-breakpoint
CREATE TABLE `factory_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`workflow_kind` text NOT NULL,
	`title` text NOT NULL,
	`source_brief` text NOT NULL,
	`source` text NOT NULL,
	`subject_type` text,
	`subject_id` text,
	`current_stage` text,
	`active_room_ids` text NOT NULL,
	`settings` text NOT NULL,
	`plan_summary` text,
	`diagnostics` text NOT NULL,
	`usage` text NOT NULL,
	`cancel_reason` text,
	`started` integer DEFAULT false NOT NULL,
	`version` integer NOT NULL,
	`last_ord` integer DEFAULT 0 NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `factory_runs_status_created_idx` ON `factory_runs` (`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `factory_runs_created_idx` ON `factory_runs` (`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `factory_stages` (
	`id` text PRIMARY KEY NOT NULL,
	`run_id` text NOT NULL,
	`ord` integer NOT NULL,
	`key` text NOT NULL,
	`stage_name` text NOT NULL,
	`status` text NOT NULL,
	`depends_on` text NOT NULL,
	`assigned_room_id` text,
	`summary` text,
	`verification_summary` text,
	`notes` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `factory_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `factory_stages_run_ord_uq` ON `factory_stages` (`run_id`,`ord`);