-- wrk script: every request signs up a new address to the list "daily".
-- Usage: wrk -t2 -c20 -d20s -s scripts/signup.lua http://127.0.0.1:8080
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + tid)
  prefix = string.format("r%d-%d-", tid, math.random(1, 1000000000))
end

request = function()
  counter = counter + 1
  local body = "email=" .. prefix .. counter .. "%40example.com&lists=daily&source=https%3A%2F%2Fnews.example%2Farticle"
  return wrk.format("POST", "/subscribe", {["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/json"}, body)
end

local non2xx = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("signups/s: %.0f  requests: %d  errors(connect/read/write/status/timeout): %d/%d/%d/%d/%d\n",
    summary.requests / (summary.duration / 1e6), summary.requests,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout))
end
