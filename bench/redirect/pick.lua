-- wrk script: every request follows a random code from $CODES (one "code<TAB>url" per line),
-- with a browser user agent so that each request is a human click.
local codes = {}
local file = os.getenv("CODES")
for line in io.lines(file) do
  local code = line:match("^([^\t]+)")
  if code then codes[#codes + 1] = code end
end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
request = function()
  return wrk.format("GET", "/r/" .. codes[math.random(#codes)], { ["User-Agent"] = ua })
end

-- Counts answers by status across threads, so that 302s can be compared with stored clicks.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() found = 0; other = 0 end
response = function(status)
  if status == 302 then found = found + 1 else other = other + 1 end
end
done = function(summary, latency, requests)
  local f, o = 0, 0
  for _, t in ipairs(threads) do f = f + t:get("found"); o = o + t:get("other") end
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f found=%d other=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    f, o, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
