-- A mixed load for wrk, one scripted user per connection (run with as many threads as
-- connections): register, login, then rounds of me, refresh, template create / list /
-- change / read / delete and an admin user list; then a new user. Counts answers by status.
local threads = {}
local count = 0

function setup(thread)
   count = count + 1
   thread:set("tid", count)
   table.insert(threads, thread)
end

function init(args)
   statuses = {}
   failures = {}
   admin = os.getenv("SOAK_ADMIN_TOKEN")
   password = "soak-Password-" .. tid .. "-x9!"
   user_n = 1
   rounds = 0
   step = 1
   access, refresh, template = nil, nil, nil
end

local function req(method, path, body, token)
   local headers = {}
   if body then headers["Content-Type"] = "application/json" end
   if token then headers["Authorization"] = "Bearer " .. token end
   return wrk.format(method, path, headers, body)
end

local ROUNDS_PER_USER = 20
STEPS = { "register", "login", "me", "refresh", "template-create", "template-list", "template-patch",
   "template-get", "template-delete", "admin-list" }

-- request() only reads the state and response() alone advances it, so that a request
-- built but never sent (wrk may build one ahead) cannot skip a step.
function request()
   local username = "s" .. tid .. "_" .. user_n
   if step == 1 then
      return req("POST", "/v1/auth/register", '{"username":"' .. username .. '","password":"' .. password .. '"}')
   elseif step == 2 then
      return req("POST", "/v1/auth/login", '{"username":"' .. username .. '","password":"' .. password .. '"}')
   elseif step == 3 then
      return req("GET", "/v1/auth/me", nil, access)
   elseif step == 4 then
      return req("POST", "/v1/auth/refresh", '{"refresh_token":"' .. refresh .. '"}')
   elseif step == 5 then
      return req("POST", "/v1/templates", '{"name":"t' .. rounds .. '","content":"hello {{name}}"}', access)
   elseif step == 6 then
      return req("GET", "/v1/templates?per_page=10", nil, access)
   elseif step == 7 then
      return req("PATCH", "/v1/templates/" .. template, '{"content":"changed in round ' .. rounds .. '"}', access)
   elseif step == 8 then
      return req("GET", "/v1/templates/" .. template, nil, access)
   elseif step == 9 then
      return req("DELETE", "/v1/templates/" .. template, nil, access)
   else
      return req("GET", "/v1/users?per_page=20&q=s" .. tid, nil, admin)
   end
end

local function next_user()
   user_n = user_n + 1
   rounds = 0
   step = 1
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status >= 300 then
      local key = STEPS[step] .. " " .. status
      failures[key] = (failures[key] or 0) + 1
      -- Start over with a fresh user rather than cascade errors.
      next_user()
      return
   end
   if step == 2 or step == 4 then
      access = body:match('"access_token":"([^"]+)"')
      refresh = body:match('"refresh_token":"([^"]+)"')
   elseif step == 5 then
      template = body:match('"id":"([^"]+)"')
   end
   step = step + 1
   if step > 10 then
      rounds = rounds + 1
      step = 3
      if rounds >= ROUNDS_PER_USER then next_user() end
   end
end

function done(summary, latency, requests)
   local total, failed = {}, {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         total[status] = (total[status] or 0) + n
      end
      for key, n in pairs(thread:get("failures")) do
         failed[key] = (failed[key] or 0) + n
      end
   end
   io.write("SOAK requests ", summary.requests, "\n")
   io.write(string.format("SOAK rate %.1f req/s\n", summary.requests / (summary.duration / 1e6)))
   io.write(string.format("SOAK latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
   io.write("SOAK socket errors connect ", summary.errors.connect, " read ", summary.errors.read,
      " write ", summary.errors.write, " timeout ", summary.errors.timeout, "\n")
   local keys = {}
   for status in pairs(total) do table.insert(keys, status) end
   table.sort(keys)
   for _, status in ipairs(keys) do
      io.write("SOAK status ", status, " ", total[status], "\n")
   end
   for key, n in pairs(failed) do
      io.write("SOAK failed ", key, " ", n, "\n")
   end
end
