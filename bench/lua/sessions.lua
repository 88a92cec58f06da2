-- wrk script: every request carries one of N sessions' headers, as a caller inside that session
-- sends them, with a fresh random parent span id (real callers send a new one on every request,
-- so no cache keyed on the whole header can hit).
--   wrk ... -s bench/lua/sessions.lua <url> -- <sessions file>
-- The sessions file (bench/lib/sessions.ts) has one line per session:
--   <trace id> <TAB> <traceparent flags> <TAB> <baggage header>
-- done() prints one line `BENCH_JSON {...}` with the totals bench/lib/wrk.ts reads.

local sessions = {}

function init(args)
  for line in io.lines(args[1]) do
    local trace, flags, baggage = line:match("^(%x+)\t(%x%x)\t(.+)$")
    if trace then sessions[#sessions + 1] = { prefix = "00-" .. trace .. "-", suffix = "-" .. flags, baggage = baggage } end
  end
  if #sessions == 0 then error("no sessions in " .. tostring(args[1])) end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  local s = sessions[math.random(#sessions)]
  -- 16 hex digits, never all zero (an invalid span id).
  local span = string.format("%08x%08x", math.random(1, 0x7fffffff), math.random(0, 0x7fffffff))
  wrk.headers["traceparent"] = s.prefix .. span .. s.suffix
  wrk.headers["baggage"] = s.baggage
  return wrk.format("GET", wrk.path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationMicros":%d,"p50Micros":%d,"p99Micros":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
