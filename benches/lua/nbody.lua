-- nbody: a star and four planets on near-circular orbits, integrated with
-- a simple symplectic Euler step (G = 1, dt = 0.01) for N steps.
-- Measures float arithmetic and table field access; checksum is the energy.

local function make_system()
  local bodies = { { x = 0, y = 0, z = 0, vx = 0, vy = 0, vz = 0, m = 1.0 } }
  -- radius, mass, height above the plane, direction (a Pythagorean unit vector)
  local planets = {
    { 1.0, 0.01, 0.01, 0.6, 0.8 }, { 1.7, 0.003, -0.02, -0.8, 0.6 },
    { 2.9, 0.02, 0.03, -0.28, -0.96 }, { 4.4, 0.005, -0.05, 0.96, -0.28 },
  }
  local px, py, pz = 0.0, 0.0, 0.0
  for _, p in ipairs(planets) do
    local r, m, h, cx, cy = p[1], p[2], p[3], p[4], p[5]
    local v = math.sqrt(1.0 / r)
    local b = { x = r * cx, y = r * cy, z = h, vx = -v * cy, vy = v * cx, vz = 0.1 * h, m = m }
    bodies[#bodies + 1] = b
    px, py, pz = px + b.vx * m, py + b.vy * m, pz + b.vz * m
  end
  local star = bodies[1] -- cancel the total momentum
  star.vx, star.vy, star.vz = -px / star.m, -py / star.m, -pz / star.m
  return bodies
end

local function advance(bodies, dt)
  local n = #bodies
  for i = 1, n do
    local a = bodies[i]
    for j = i + 1, n do
      local b = bodies[j]
      local dx, dy, dz = a.x - b.x, a.y - b.y, a.z - b.z
      local d2 = dx * dx + dy * dy + dz * dz
      local mag = dt / (d2 * math.sqrt(d2))
      local ma, mb = a.m * mag, b.m * mag
      a.vx, a.vy, a.vz = a.vx - dx * mb, a.vy - dy * mb, a.vz - dz * mb
      b.vx, b.vy, b.vz = b.vx + dx * ma, b.vy + dy * ma, b.vz + dz * ma
    end
  end
  for i = 1, n do
    local b = bodies[i]
    b.x, b.y, b.z = b.x + dt * b.vx, b.y + dt * b.vy, b.z + dt * b.vz
  end
end

local function energy(bodies)
  local e = 0.0
  for i, a in ipairs(bodies) do
    e = e + 0.5 * a.m * (a.vx * a.vx + a.vy * a.vy + a.vz * a.vz)
    for j = i + 1, #bodies do
      local b = bodies[j]
      local dx, dy, dz = a.x - b.x, a.y - b.y, a.z - b.z
      e = e - a.m * b.m / math.sqrt(dx * dx + dy * dy + dz * dz)
    end
  end
  return e
end

return {
  run = function(self, arg)
    local n = math.tointeger(tonumber(arg))
    local bodies = make_system()
    local before = energy(bodies)
    for _ = 1, n do advance(bodies, 0.01) end
    local pos = 0.0
    for _, b in ipairs(bodies) do pos = pos + b.x + 2 * b.y + 3 * b.z end
    return string.format("energy %.9f -> %.9f pos=%.9f", before, energy(bodies), pos)
  end,
}
