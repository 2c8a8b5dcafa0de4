-- One batch of a node's room events, applied atomically (see ops.rs).
--
-- KEYS: 1 the room's stream of lines, 2 its line counter, 3 the nodes and
-- their presence deadlines (a sorted set), 4 the nicknames and who holds
-- them, 5 each node's incarnation and last applied batch, 6 its results,
-- 7 the nodes declared dead whose members were announced as left.
-- ARGV: 1 key prefix (members of node N are in PREFIX..'node:'..N),
-- 2 node id, 3 incarnation, 4 batch number, 5 stream length, 6 presence
-- TTL in ms, then the ops.
--
-- Every line gets the next number of the counter, so a reader that sees a
-- number jump knows how many lines it missed. A batch number already
-- applied (the reply was lost, the node sent it again) returns the results
-- it had, and nothing happens twice.
local stream, counter, nodes, nicks, applied, results, reaped =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local prefix, node, incarnation = ARGV[1], ARGV[2], ARGV[3]
local batch, maxlen, ttl = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])

local done = redis.call('HGET', applied, node)
if done then
  local run, number = string.match(done, '^(.*):(%d+)$')
  if run == incarnation and tonumber(number) >= batch then
    local cached = redis.call('HGET', results, node)
    if cached then return cjson.decode(cached) end
    return {}
  end
end

local members = prefix .. 'node:' .. node

local function say(line)
  local n = redis.call('INCR', counter)
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'n', n, 'l', line)
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Names given by address have a space ("IP PORT"); nicknames never do.
local function is_nick(name)
  return not string.find(name, ' ', 1, true)
end

local function release(name, owner)
  if is_nick(name) and redis.call('HGET', nicks, name) == owner then
    redis.call('HDEL', nicks, name)
  end
end

-- Claims a nickname for owner; false when someone else holds it.
local function claim(name, owner)
  if not is_nick(name) then return true end
  local holder = redis.call('HGET', nicks, name)
  if holder and holder ~= owner then return false end
  redis.call('HSET', nicks, name, owner)
  return true
end

local function beat()
  return redis.call('ZADD', nodes, now_ms() + ttl, node) == 1
end

-- Announces the members of nodes whose deadline passed as left, once.
local function reap()
  local dead = redis.call('ZRANGEBYSCORE', nodes, '-inf', now_ms())
  for _, other in ipairs(dead) do
    local key = prefix .. 'node:' .. other
    local list = redis.call('HGETALL', key)
    for j = 1, #list, 2 do
      release(list[j + 1], other .. '/' .. list[j])
      say('* ' .. list[j + 1] .. ' left\n')
    end
    redis.call('DEL', key)
    redis.call('ZREM', nodes, other)
    redis.call('HDEL', applied, other)
    redis.call('HDEL', results, other)
    redis.call('SADD', reaped, other)
  end
end

local out = {}
local leaving = false
local i = 7
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'L' then -- LINE
    say(ARGV[i + 1])
    out[#out + 1] = ''
    i = i + 2
  elseif op == 'J' then -- ID NAME LINE
    redis.call('HSET', members, ARGV[i + 1], ARGV[i + 2])
    say(ARGV[i + 3])
    out[#out + 1] = ''
    i = i + 4
  elseif op == 'Q' then -- ID NAME LINE
    redis.call('HDEL', members, ARGV[i + 1])
    release(ARGV[i + 2], node .. '/' .. ARGV[i + 1])
    say(ARGV[i + 3])
    out[#out + 1] = ''
    i = i + 4
  elseif op == 'N' then -- ID OLD NEW LINE: '1' renamed, '0' taken
    local owner = node .. '/' .. ARGV[i + 1]
    if claim(ARGV[i + 3], owner) then
      release(ARGV[i + 2], owner)
      redis.call('HSET', members, ARGV[i + 1], ARGV[i + 3])
      say(ARGV[i + 4])
      out[#out + 1] = '1'
    else
      out[#out + 1] = '0'
    end
    i = i + 5
  elseif op == 'W' then -- everyone on a live node, one name per line
    local names = {}
    for _, other in ipairs(redis.call('ZRANGEBYSCORE', nodes, now_ms(), '+inf')) do
      for _, name in ipairs(redis.call('HVALS', prefix .. 'node:' .. other)) do
        names[#names + 1] = name
      end
    end
    out[#out + 1] = table.concat(names, '\n')
    i = i + 1
  elseif op == 'H' then -- heartbeat: '1' when this node had been reaped
    local missing = beat()
    reap()
    out[#out + 1] = missing and '1' or '0'
    i = i + 1
  elseif op == 'S' then -- COUNT (ID NAME FALLBACK)*: who is here now
    -- Announces the difference from what Redis had (members who came and
    -- went while the node could not say so), claims nicknames again, and
    -- returns the ids whose nickname someone else took meanwhile: they go
    -- by FALLBACK. A Redis that lost everything had told no one they left,
    -- so then nobody is announced as joined; a node declared dead had its
    -- members announced as left, so then all of them are.
    local count = tonumber(ARGV[i + 1])
    local now = {}
    for k = 0, count - 1 do now[ARGV[i + 2 + 3 * k]] = ARGV[i + 3 + 3 * k] end
    local list = redis.call('HGETALL', members)
    local was_reaped = redis.call('SREM', reaped, node) == 1
    local announce = #list > 0 or was_reaped
    for j = 1, #list, 2 do
      local id, name = list[j], list[j + 1]
      if now[id] ~= name then
        release(name, node .. '/' .. id)
        say('* ' .. name .. ' left\n')
        redis.call('HDEL', members, id)
      end
    end
    local lost = {}
    for k = 0, count - 1 do
      local id, name = ARGV[i + 2 + 3 * k], ARGV[i + 3 + 3 * k]
      if not claim(name, node .. '/' .. id) then
        lost[#lost + 1] = id
        name = ARGV[i + 4 + 3 * k]
      end
      if redis.call('HGET', members, id) ~= name then
        redis.call('HSET', members, id, name)
        if announce then say('* ' .. name .. ' joined\n') end
      end
    end
    beat()
    out[#out + 1] = table.concat(lost, ',')
    i = i + 2 + 3 * count
  elseif op == 'X' then -- the node is going away
    redis.call('ZREM', nodes, node)
    redis.call('DEL', members)
    leaving = true
    out[#out + 1] = ''
    i = i + 1
  else
    return redis.error_reply('unknown room op ' .. tostring(op))
  end
end

if leaving then
  redis.call('HDEL', applied, node)
  redis.call('HDEL', results, node)
  return out
end
-- A dead node's members stay listed until a live node reaps them.
redis.call('PEXPIRE', members, ttl * 10)
redis.call('HSET', applied, node, incarnation .. ':' .. batch)
redis.call('HSET', results, node, cjson.encode(out))
return out
