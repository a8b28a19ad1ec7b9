-- Program 9417 of seed 0xd1ff5eed, reduced: pow(2^54 - 2, -1) is 1 ULP apart (libm-ulp).
try(4, function() return 18014398509481982 ^ -1 end)
