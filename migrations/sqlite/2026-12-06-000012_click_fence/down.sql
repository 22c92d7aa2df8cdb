DELETE FROM settings WHERE name = 'click_fence';
