-- The UTC offset an imported file wrote its dates in, so an export writes
-- them back in it ('' for UTC).
ALTER TABLE article_sources ADD COLUMN zone text NOT NULL DEFAULT '';
