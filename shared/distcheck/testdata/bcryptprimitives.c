/*
 * A stand-in bcryptprimitives.dll for wine 8 (Debian 12), which lacks it.
 * Go's Windows runtime (1.24 and later) gets its random numbers from
 * ProcessPrng in this DLL and stops at start-up without it. The MSI test
 * builds this with mingw-w64 and drops it into the wine prefix only, so
 * that it can run the installed mapdrive.exe; real Windows has the DLL.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
    if (!SystemFunction036(data, n))
      return FALSE;
    data += n;
    length -= n;
  }
  return TRUE;
}
