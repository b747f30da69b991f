-- wrk script for bench/proxy_bench.py: a small non-streaming chat request
-- with the model in the body, on kept-alive connections.
--
--   wrk -t1 -c32 -d10s -s bench/wrk/chat.lua http://127.0.0.1:PORT/v1/chat/completions
--
-- Environment:
--   SYBENCH_BODY   request body (default: the small chat request below)
--   SYBENCH_HEADER one extra request header, "Name: value" (an API key)
--   SYBENCH_HOOK   "0": do not define the response() hook (it makes wrk hand
--                  every response to Lua, ~10% of wrk's CPU); non-2xx are then
--                  only wrk's own count of statuses >= 400
--
-- Every response whose status is not 2xx is counted (response() hook, per
-- thread; summed in done()). done() prints one machine-readable line:
--   SYBENCH {"requests":..,"non2xx":..,"p50_us":..,"p99_us":..,...}
-- Latencies are wrk's per-request latencies in microseconds, exact to 1 us
-- (wrk records them in a 1 us resolution histogram), not wrk's rounded
-- --latency table.

local default_body =
   '{"model":"bench-model","messages":[{"role":"user","content":"hello"}],"max_tokens":4}'

wrk.method = "POST"
wrk.body = os.getenv("SYBENCH_BODY") or default_body
wrk.headers["Content-Type"] = "application/json"
local extra = os.getenv("SYBENCH_HEADER")
if extra then
   local k, v = extra:match("^([^:]+):%s*(.*)$")
   if k then
      wrk.headers[k] = v
   end
end

-- ---- main thread: collect the worker threads --------------------------------

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- ---- worker threads (one Lua state each; globals are read by done()) ------

non2xx = 0
first_bad_status = 0

if os.getenv("SYBENCH_HOOK") ~= "0" then
   function response(status, headers, body)
      if status < 200 or status > 299 then
         non2xx = non2xx + 1
         if first_bad_status == 0 then
            first_bad_status = status
         end
      end
   end
end

-- ---- main thread, at the end ------------------------------------------------

function done(summary, latency, requests)
   local bad, first = 0, 0
   for _, t in ipairs(threads) do
      bad = bad + (tonumber(t:get("non2xx")) or 0)
      local s = tonumber(t:get("first_bad_status")) or 0
      if first == 0 and s ~= 0 then
         first = s
      end
   end
   local e = summary.errors
   local n = summary.requests
   if os.getenv("SYBENCH_HOOK") == "0" then
      bad = e.status
   end
   io.write(string.format(
      'SYBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"first_bad_status":%d,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
      '"min_us":%d,"mean_us":%.1f,"stdev_us":%.1f,"max_us":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
      n, summary.duration, summary.bytes, bad, first,
      e.connect, e.read, e.write, e.status, e.timeout,
      n > 0 and latency.min or 0, n > 0 and latency.mean or 0, n > 0 and latency.stdev or 0,
      n > 0 and latency.max or 0,
      n > 0 and latency:percentile(50) or 0, n > 0 and latency:percentile(90) or 0,
      n > 0 and latency:percentile(99) or 0, n > 0 and latency:percentile(99.9) or 0))
end
