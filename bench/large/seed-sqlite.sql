-- Large-database seed for bench/large/run.sh, SQLite. Run with the sqlite3 shell on a
-- database the server has migrated (`todo-api migrate`), with these parameters set:
--
--   @users     users with exactly 100 tasks each, named bench-u00000, bench-u00001, ...
--   @big       tasks of the one large user, bench-big; @users * 100 must be a multiple of @big
--
-- The large user's tasks are interleaved with everyone else's (every @stride-th id), as in a
-- table many users write to at once. Every value is derived from the row number by a
-- multiplicative hash, so two runs build the same database. The mix (the bench's queries rely on
-- it): titles of three words from a 200-word vocabulary (a word is in ~1.5% of titles), half the
-- tasks with a two-word description, 30% complete, priorities spread evenly, 20% due at an
-- instant and 10% due on a day within 90 days of 2026-11-01, and one tag on 25%: "work" 10%,
-- "home" 10%, "urgent" 5%. title_key and search_text are filled as the application fills them
-- (the vocabulary is lowercase ASCII, so lower() is the application's fold), the FTS5 index by
-- the schema's triggers (then merged), and task_tags from the tags column.
-- A seed, not a service: a crash midway means seeding again, so no syncing, and a cache large
-- enough to hold the indexes being built.
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;

-- Refuse to run without the parameters (an unset one is NULL and would seed one row).
CREATE TEMP TABLE parameters_are_set (ok INTEGER NOT NULL CHECK (ok));
INSERT INTO parameters_are_set VALUES ((@users * 100) % @big = 0);
DROP TABLE parameters_are_set;

CREATE TEMP TABLE words (i INTEGER PRIMARY KEY, w TEXT NOT NULL);
INSERT INTO words (i, w)
SELECT key, value FROM json_each('["alpha","invoice","garden","report","budget","meeting","call","email","review","draft","plan","order","book","ticket","repair","clean","paint","write","read","fix","deploy","test","design","sketch","print","scan","file","sort","pack","ship","buy","sell","pay","renew","cancel","schedule","visit","walk","run","swim","cook","bake","wash","iron","sew","knit","water","plant","prune","mow","rake","sweep","mop","dust","tidy","shop","fetch","collect","deliver","return","exchange","refund","claim","submit","approve","reject","sign","stamp","post","mail","phone","chat","meet","greet","host","invite","thank","remind","notify","alert","backup","restore","update","upgrade","install","remove","configure","monitor","audit","inspect","measure","weigh","count","label","tag","archive","shred","recycle","donate","lend","borrow","rent","insure","register","enroll","apply","interview","hire","train","coach","mentor","teach","learn","study","practice","rehearse","perform","record","edit","publish","share","present","pitch","negotiate","contract","quote","estimate","forecast","reconcile","tax","payroll","ledger","receipt","statement","balance","transfer","deposit","withdraw","invest","save","grant","proposal","agenda","minutes","summary","outline","chapter","slides","poster","flyer","banner","website","server","laptop","printer","router","cable","battery","charger","kitchen","garage","attic","basement","bathroom","bedroom","office","porch","fence","roof","gutter","window","door","lock","key","car","bike","tyre","brakes","oil","filter","groceries","pharmacy","doctor","dentist","vet","school","library","bank","council","embassy","passport","visa","flight","hotel","ferry","museum","concert","birthday","wedding","holiday"]');

-- x: row number; stride: every stride-th row belongs to bench-big; j: the row's number among the
-- others (1-based), so user (j - 1) % @users gets exactly 100.
CREATE TEMP TABLE seed AS
WITH RECURSIVE n(x) AS (
    SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < @users * 100 + @big
)
SELECT x,
       (x * 2654435761) % 4294967291 AS h,
       (@users * 100 + @big) / @big AS stride
FROM n;

INSERT INTO tasks (id, user_id, title, description, complete, created_at, updated_at, priority,
                   tags, due_at, due_date, title_key, search_text)
SELECT x, user_id, title, description, complete, created_at, created_at + (h % 86400000),
       priority, tags, due_at, due_date, title, title || coalesce(char(10) || description, '')
FROM (
    SELECT x, h,
           CASE WHEN x % stride = 0 THEN 'bench-big'
                ELSE printf('bench-u%05d', (x - x / stride - 1) % @users) END AS user_id,
           (SELECT w FROM words WHERE i = h % 200) || ' ' ||
           (SELECT w FROM words WHERE i = (h / 200) % 200) || ' ' ||
           (SELECT w FROM words WHERE i = (h / 40000) % 200) AS title,
           CASE WHEN (h / 8000000) % 2 = 0 THEN
               (SELECT w FROM words WHERE i = (h / 7) % 200) || ' ' ||
               (SELECT w FROM words WHERE i = (h / 1400) % 200) END AS description,
           (h / 11) % 10 < 3 AS complete,
           1767225600000 + x * 1000 AS created_at,
           (h / 13) % 4 AS priority,
           CASE (h / 17) % 20 WHEN 0 THEN '["work"]' WHEN 1 THEN '["work"]'
                              WHEN 2 THEN '["home"]' WHEN 3 THEN '["home"]'
                              WHEN 4 THEN '["urgent"]' ELSE '[]' END AS tags,
           CASE WHEN (h / 19) % 10 < 2
                THEN 1793491200000 + (h / 23) % (90 * 86400000) END AS due_at,
           CASE WHEN (h / 19) % 10 = 2
                THEN date('2026-11-01', '+' || ((h / 23) % 90) || ' days') END AS due_date
    FROM seed
    ORDER BY x
);

INSERT INTO task_tags (user_id, tag_key, task_id, name, created_at, updated_at, priority,
                       title_key, due_at, due_date)
SELECT tasks.user_id, tag.value, tasks.id, tag.value, tasks.created_at, tasks.updated_at,
       tasks.priority, tasks.title_key, tasks.due_at, tasks.due_date
FROM tasks, json_each(tasks.tags) AS tag
WHERE tasks.tags <> '[]';

DROP TABLE seed;
DROP TABLE words;
-- One large insert leaves the search index in many segments; a running server's writer keeps
-- merging them (its search-index upkeep), so measure the merged index.
INSERT INTO task_search (task_search) VALUES ('optimize');
ANALYZE;
