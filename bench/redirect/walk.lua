-- wrk script: requests every code of $CODES once (thread 1 the first half, thread 2 the rest),
-- then stops; fills the server's link cache before memory is read.
local codes = {}
for line in io.lines(os.getenv("CODES")) do
  local code = line:match("^([^\t]+)")
  if code then codes[#codes + 1] = code end
end
local threads = {}
setup = function(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end
local ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
init = function()
  local half = math.ceil(#codes / 2)
  next_i = index * half + 1
  last = math.min((index + 1) * half, #codes)
  sent = 0
end
request = function()
  if next_i > last then
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  local code = codes[next_i]
  next_i = next_i + 1
  sent = sent + 1
  return wrk.format("GET", "/r/" .. code, { ["User-Agent"] = ua })
end
done = function()
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("sent") end
  io.write(string.format("requests=%d\n", n))
end
