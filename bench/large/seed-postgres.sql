-- Large-database seed for bench/large/run.sh, PostgreSQL: the same rows as
-- seed-sqlite.sql (see there for the mix), for psql on a schema the server has migrated, with
-- search_path set to it and these variables:
--
--   users      users with exactly 100 tasks each, named bench-u00000, bench-u00001, ...
--   big        tasks of the one large user, bench-big; users * 100 must be a multiple of big
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE words AS
SELECT (ordinality - 1)::bigint AS i, w
FROM unnest(ARRAY['alpha','invoice','garden','report','budget','meeting','call','email','review','draft','plan','order','book','ticket','repair','clean','paint','write','read','fix','deploy','test','design','sketch','print','scan','file','sort','pack','ship','buy','sell','pay','renew','cancel','schedule','visit','walk','run','swim','cook','bake','wash','iron','sew','knit','water','plant','prune','mow','rake','sweep','mop','dust','tidy','shop','fetch','collect','deliver','return','exchange','refund','claim','submit','approve','reject','sign','stamp','post','mail','phone','chat','meet','greet','host','invite','thank','remind','notify','alert','backup','restore','update','upgrade','install','remove','configure','monitor','audit','inspect','measure','weigh','count','label','tag','archive','shred','recycle','donate','lend','borrow','rent','insure','register','enroll','apply','interview','hire','train','coach','mentor','teach','learn','study','practice','rehearse','perform','record','edit','publish','share','present','pitch','negotiate','contract','quote','estimate','forecast','reconcile','tax','payroll','ledger','receipt','statement','balance','transfer','deposit','withdraw','invest','save','grant','proposal','agenda','minutes','summary','outline','chapter','slides','poster','flyer','banner','website','server','laptop','printer','router','cable','battery','charger','kitchen','garage','attic','basement','bathroom','bedroom','office','porch','fence','roof','gutter','window','door','lock','key','car','bike','tyre','brakes','oil','filter','groceries','pharmacy','doctor','dentist','vet','school','library','bank','council','embassy','passport','visa','flight','hotel','ferry','museum','concert','birthday','wedding','holiday']) WITH ORDINALITY AS t (w, ordinality);
CREATE UNIQUE INDEX ON words (i);

INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at, priority,
                   tags, due_at, due_date, title_key, search_text)
SELECT user_id, title, description, complete, created_at, created_at + (h % 86400000),
       priority, tags, due_at, due_date, title, title || coalesce(E'\n' || description, '')
FROM (
    SELECT h,
           CASE WHEN x % stride = 0 THEN 'bench-big'
                ELSE 'bench-u' || lpad(((x - x / stride - 1) % :users)::text, 5, '0') END AS user_id,
           (SELECT w FROM words WHERE i = h % 200) || ' ' ||
           (SELECT w FROM words WHERE i = (h / 200) % 200) || ' ' ||
           (SELECT w FROM words WHERE i = (h / 40000) % 200) AS title,
           CASE WHEN (h / 8000000) % 2 = 0 THEN
               (SELECT w FROM words WHERE i = (h / 7) % 200) || ' ' ||
               (SELECT w FROM words WHERE i = (h / 1400) % 200) END AS description,
           (h / 11) % 10 < 3 AS complete,
           1767225600000 + x * 1000 AS created_at,
           ((h / 13) % 4)::smallint AS priority,
           CASE (h / 17) % 20 WHEN 0 THEN '["work"]' WHEN 1 THEN '["work"]'
                              WHEN 2 THEN '["home"]' WHEN 3 THEN '["home"]'
                              WHEN 4 THEN '["urgent"]' ELSE '[]' END AS tags,
           CASE WHEN (h / 19) % 10 < 2
                THEN 1793491200000 + (h / 23) % (90 * 86400000::bigint) END AS due_at,
           CASE WHEN (h / 19) % 10 = 2
                THEN to_char(DATE '2026-11-01' + ((h / 23) % 90)::int, 'YYYY-MM-DD') END AS due_date
    FROM (
        SELECT x, (x * 2654435761) % 4294967291 AS h, (:users * 100 + :big) / :big AS stride
        FROM generate_series(1::bigint, :users * 100 + :big) AS x
    ) AS seed
    ORDER BY x
) AS rows;

INSERT INTO task_tags (user_id, tag_key, task_id, name, created_at, updated_at, priority,
                       title_key, due_at, due_date)
SELECT tasks.user_id, tag, tasks.id, tag, tasks.created_at, tasks.updated_at, tasks.priority,
       tasks.title_key, tasks.due_at, tasks.due_date
FROM tasks, jsonb_array_elements_text(tasks.tags::jsonb) AS tag
WHERE tasks.tags <> '[]';
COMMIT;
VACUUM ANALYZE tasks;
VACUUM ANALYZE task_tags;
