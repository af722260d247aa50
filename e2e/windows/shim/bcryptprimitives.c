/*
 * bcryptprimitives.dll for Wine 8: Go 1.24+ Windows binaries get their random
 * bytes from ProcessPrng, which Wine added only in 9.x; without it the Go
 * runtime dies at start-up ("bcryptprimitives.dll not found"). This is the
 * one export Go needs, on top of RtlGenRandom (advapi32's SystemFunction036),
 * which Wine 8 has. Test scaffolding only: prepare.sh builds it with
 * gcc-mingw-w64-x86-64 and copies it into the prefix's system32 (Go loads it
 * with LOAD_LIBRARY_SEARCH_SYSTEM32, so a copy beside the .exe is not seen).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* RtlGenRandom takes a ULONG: feed it in chunks. */
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}
