/*
 * bcryptprimitives.dll shim for Debian's Wine 8, which lacks ProcessPrng.
 * Rust's std on Windows (since 1.78) resolves ProcessPrng from bcryptprimitives.dll
 * for its random numbers (HashMap seeds); without it every Rust program aborts at start.
 * This test-only shim forwards to BCryptGenRandom with the system-preferred RNG, which
 * Wine implements. Built by scripts/test-windows; never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
