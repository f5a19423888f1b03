// The function a pre-started Mono process takes on while it waits (Warm.Rehearse): an assembly
// of its own, loaded from a folder the way a function's is, so that the first load, type lookup
// and invocation of the function that follows cost what a later one would.
using System.Collections.Generic;

namespace Sluice.Rehearsal
{
    public static class Fn
    {
        /// <summary>The rehearsal's invocations: 2 when it ran to its end, the answer of the first
        /// and the /next that brought the second included.</summary>
        public static int Calls;

        public static Dictionary<string, string> Handle(object evt)
        {
            Calls++;
            return new Dictionary<string, string> { { "rehearsal", "done" } };
        }
    }
}
