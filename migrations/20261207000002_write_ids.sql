-- A worker's write names itself. A run's write (checkpoints, its result) or an attempt's end
-- whose connection drops may have committed before its answer was lost; the worker tries it
-- again. Each write now records its id on the plan it writes (`plans.last_write`): a try
-- skips a plan that already holds its id (so a write lands once, even when the first try
-- commits while the second waits for its row lock), and a try that finds the plan taken asks
-- whether the id is there, that is whether its own earlier try landed
-- (`store::durable::durable_once`).
--
-- No default, no index: adding the column rewrites nothing, and writing it keeps updates HOT.
ALTER TABLE plans ADD COLUMN last_write uuid;
