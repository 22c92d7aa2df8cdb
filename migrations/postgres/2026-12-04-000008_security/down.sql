DROP TABLE webhook_rejections;
DROP TABLE dashboard_sessions;
