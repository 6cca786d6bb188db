"""APScheduler jobs calling core services (lectures, reminders, the daily announcement)."""
