-- os.setlocale in the full profile: only locales the system has succeed.
-- The guest's C library has no locale data and would accept any name; like
-- a Linux system without extra locales installed, the full profile has the
-- C locale under its names ("C", "POSIX", "C.UTF-8", "C.utf8") and nothing
-- else. (os.setlocale("") depends on the environment, which differs between
-- the two sides here; tests/all/full_profile.rs compares it with lua5.4.)
--- locales that do not exist fail
print(os.setlocale("xx_NOWHERE"))
print(os.setlocale("pt_BR.no-such-codeset"))
print(os.setlocale("xx_NOWHERE", "numeric"), os.setlocale("xx_NOWHERE", "ctype"))
print(os.setlocale("xx_NOWHERE", "collate"), os.setlocale("xx_NOWHERE", "monetary"), os.setlocale("xx_NOWHERE", "time"))
--- a failed setlocale leaves the locale as it was
print(os.setlocale("xx_NOWHERE"), os.setlocale())
print(string.format("%.2f", 3.25), tonumber("3.25"), 10 / 4)
--- the C locale under its names
print(os.setlocale("C"), os.setlocale("POSIX"), os.setlocale("C", "numeric"))
print(os.setlocale(), os.setlocale(nil, "time"))
--- bad categories are errors
print(pcall(os.setlocale, "C", "everything"))
print(pcall(os.setlocale, {}))
