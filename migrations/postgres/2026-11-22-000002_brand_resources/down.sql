DROP TABLE discount_codes;
DROP TABLE links;
DROP TABLE enrollments;
DROP TABLE campaigns;
DROP TABLE influencer_tags;
DROP TABLE influencer_platforms;
DROP TABLE influencers;
