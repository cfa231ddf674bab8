-- Load for the benchmark's HTTP measures, driven by wrk.
--
--   wrk ... -s load.lua URL -- page
--   wrk ... -s load.lua URL -- form PATH ORIGIN SESSIONS THREADS FIELDS [ACCEPTED]
--
-- "page" fetches URL over and over. "form" is a respondent sending a form
-- again and again: GET the form (for its CSRF token and, on the portal, its
-- one-time token), then POST it. SESSIONS is a file of session keys, each
-- holding a complete draft, used once each ("-" for none); FIELDS is added
-- to the posted body; each accepted send's receipt address is written to a
-- file ACCEPTED-<thread>, when given. Run "form" with one connection per
-- thread: the thread keeps each respondent's place in the journey.
--
-- done() prints one line, WRK_RESULT {...}, that bench/http.py reads.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

function init(args)
  mode = args[1]
  accepted, refused, exhausted = 0, 0, 0
  if mode ~= "form" then
    return
  end
  path, origin, sessions_file, threads_total, fields = args[2], args[3], args[4], tonumber(args[5]), args[6] or ""
  if args[7] and args[7] ~= "-" then
    accepted_file = io.open(args[7] .. "-" .. id, "w")
  end
  -- A CSRF cookie of the client's own, as a browser that visited before has:
  -- the server reads it and sends no new one.
  math.randomseed(os.time() + id * 7919)
  local secret = {}
  for i = 1, 32 do
    local n = math.random(#LETTERS)
    secret[i] = LETTERS:sub(n, n)
  end
  csrf_cookie = table.concat(secret)
  sessions = {}
  if sessions_file ~= "-" then
    local index = 0
    for line in io.lines(sessions_file) do
      if index % threads_total == id then
        sessions[#sessions + 1] = line
      end
      index = index + 1
    end
  end
  used, posting = 0, false
end

function request()
  if mode ~= "form" then
    return wrk.format("GET", nil, { ["X-Forwarded-Proto"] = "https" })
  end
  if not posting then
    cookie = "csrftoken=" .. csrf_cookie
    if #sessions > 0 then
      used = used + 1
      if used > #sessions then
        -- Out of prepared sessions: the measure would go on with used ones.
        exhausted = 1
        used = 1
      end
      cookie = cookie .. "; sessionid=" .. sessions[used]
    end
    return wrk.format("GET", path, { ["X-Forwarded-Proto"] = "https", Cookie = cookie })
  end
  local body = "csrfmiddlewaretoken=" .. form_csrf .. fields
  if token then
    body = body .. "&token=" .. token
  end
  return wrk.format("POST", path, {
    ["X-Forwarded-Proto"] = "https",
    Origin = origin,
    Cookie = cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end

function response(status, headers, body)
  if mode ~= "form" then
    return
  end
  if not posting then
    form_csrf = body:match('name="csrfmiddlewaretoken" value="([^"]+)"')
    token = body:match('name="token" value="([^"]+)"')
    if status == 200 and form_csrf then
      posting = true
    else
      refused = refused + 1
    end
    return
  end
  posting = false
  -- Both the portal and the ceiling answer a saved form with a redirect.
  if status == 302 then
    accepted = accepted + 1
    if accepted_file then
      accepted_file:write(headers["Location"], "\n")
      accepted_file:flush()
    end
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local accepted_total, refused_total, exhausted_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    accepted_total = accepted_total + (thread:get("accepted") or 0)
    refused_total = refused_total + (thread:get("refused") or 0)
    exhausted_total = exhausted_total + (thread:get("exhausted") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "socket_errors": %d, "timeouts": %d, "bad_status": %d, '
      .. '"p50_us": %d, "p99_us": %d, "accepted": %d, "refused": %d, "exhausted": %d}\n',
    summary.requests, summary.duration, errors.connect + errors.read + errors.write, errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(99), accepted_total, refused_total, exhausted_total
  ))
end
