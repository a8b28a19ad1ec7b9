-- Program 29599 of seed 0xd1ff5eed, reduced: math.fmod with two bad arguments names a different one (c-argument-order).
try(2, function() return (math.fmod((503253920493 .. 'abc'), (math.mininteger < math.mininteger)) // ' 5 ') end)
