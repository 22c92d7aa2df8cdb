DROP FUNCTION influtrack_click_fence_allows(TEXT);
DELETE FROM settings WHERE name = 'click_fence';
