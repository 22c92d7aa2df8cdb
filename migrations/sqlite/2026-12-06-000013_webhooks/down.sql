DROP TABLE announcements;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
