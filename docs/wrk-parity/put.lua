-- For docs/wrk-parity/run.sh: etcd v3 gateway put of a 64-byte value to one of 1000 keys, like skeptic bench's write mix
local n = 0
local reqs = nil
request = function()
  if reqs == nil then
    -- Built once: wrk's own CPU per request stays at formatting nothing.
    reqs = {}
    local value = b64(string.rep("x", 64))
    for k = 0, 999 do
      local body = '{"key":"' .. b64("bench-" .. k) .. '","value":"' .. value .. '"}'
      reqs[k] = wrk.format("POST", "/v3/kv/put", {["Content-Type"]="application/json"}, body)
    end
  end
  n = n + 1
  return reqs[n % 1000]
end
local b='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
function b64(data)
  return ((data:gsub('.', function(x)
    local r,bb='',x:byte()
    for i=8,1,-1 do r=r..(bb%2^i-bb%2^(i-1)>0 and '1' or '0') end
    return r;
  end)..'0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if (#x < 6) then return '' end
    local c=0
    for i=1,6 do c=c+(x:sub(i,i)=='1' and 2^(6-i) or 0) end
    return b:sub(c+1,c+1)
  end)..({ '', '==', '=' })[#data%3+1])
end
