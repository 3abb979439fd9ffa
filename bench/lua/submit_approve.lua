-- Submit a deal that needs the sales director, then approve it: two durable writes, each
-- committed with its audit event. Deal ids are unique per thread and run.
local headers = {["Content-Type"] = "application/json",
                 ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")}
local run = os.getenv("BENCH_RUN")
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end
local counter = 0
local queue = {}
request = function()
  local id = table.remove(queue)
  if id then
    return wrk.format("POST", "/v1/approval-requests/" .. id .. "/approve", headers,
                      '{"approver_id": "sd.patel"}')
  end
  counter = counter + 1
  local body = string.format('{"requested_by": "am.jones", "deal": {"deal_id": "B-%s-%d-%d", ' ..
    '"owner_id": "am.jones", "currency": "USD", "list_amount": "250000.00", ' ..
    '"discount_pct": "18", "rebate_pct": "1.5", "payment_terms_days": 60}}', run, tid, counter)
  return wrk.format("POST", "/v1/approval-requests", headers, body)
end
response = function(status, hdrs, body)
  if status == 201 then
    local id = string.match(body, '"id":"([%x%-]+)"')
    if id then table.insert(queue, id) end
  end
end
