-- Argo CD health of kube-usage-operator's UsagePolicy and ResourceAlert (usage.kubeusage.dev).
-- Ready=False (an invalid spec, a missing policy, an unreadable webhook Secret) is Degraded;
-- a firing alert is NOT: it stays Healthy and says so in the message, because an alert is
-- the operator doing its job. A UsagePolicy whose Degraded condition is True (e.g. the
-- metrics API is down and only uptime is recorded) is Degraded.
local hs = {}

local function condition(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.reason or c.type
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = obj.kind .. " is suspended"
  return hs
end

local status = obj.status or {}
local generation = obj.metadata.generation
if status.observedGeneration == nil or (generation ~= nil and status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation or "")
  return hs
end

local conditions = status.conditions or {}
local ready = condition(conditions, "Ready")
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = ready and describe(ready) or "Waiting for the operator to report Ready"
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end

local degraded = condition(conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded)
  return hs
end

hs.status = "Healthy"
local firing = condition(conditions, "Firing")
if firing ~= nil and firing.status == "True" then
  hs.message = "Firing: " .. describe(firing)
elseif obj.kind == "ResourceAlert" then
  hs.message = "Alert state: " .. (status.state or "Normal")
else
  hs.message = describe(ready)
end
return hs
