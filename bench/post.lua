-- wrk script for the POST cases of bench/run.py: sends the JSON order in the file
-- given first after `--` to the paths that follow (round-robin when several).
--   wrk -t1 -c64 -d2s -s bench/post.lua http://127.0.0.1:PORT -- results/order.json /typed
local paths = {}
local i = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  for j = 2, #args do
    paths[#paths + 1] = args[j]
  end
end

function request()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
