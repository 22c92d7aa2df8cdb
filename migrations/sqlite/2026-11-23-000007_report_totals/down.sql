DROP TABLE enrollment_click_totals;
DROP TABLE enrollment_totals;
