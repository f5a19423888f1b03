using System;
using System.Collections.Generic;

namespace Sluice.Runtime
{
    /// <summary>The context of one invocation, with the names AWS Lambda's .NET runtime uses.</summary>
    public interface ILambdaContext
    {
        string AwsRequestId { get; }
        string FunctionName { get; }
        string FunctionVersion { get; }
        string InvokedFunctionArn { get; }
        string LogGroupName { get; }
        string LogStreamName { get; }
        /// <summary>The function's memory setting, in MB.</summary>
        int MemoryLimitInMB { get; }
        /// <summary>Time left before the invocation's deadline.</summary>
        TimeSpan RemainingTime { get; }
        ILambdaLogger Logger { get; }
        /// <summary>The invocation's CloudEvent attributes: id, type, source, subject, time.</summary>
        IDictionary<string, string> CloudEvent { get; }
    }

    /// <summary>Writes to the function's log.</summary>
    public interface ILambdaLogger
    {
        void Log(string message);
        void LogLine(string message);
    }
}
