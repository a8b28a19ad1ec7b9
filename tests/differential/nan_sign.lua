-- Program 18770 of seed 0xd1ff5eed, reduced: the sign of a NaN computed from NaNs (nan-sign).
try(6, function() return -(0/0) + (0/0) end)
try(7, function() return tostring(-(0/0) + (0/0)) end)
