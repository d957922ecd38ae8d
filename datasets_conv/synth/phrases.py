"""The assistant's and the instructor's words in synthetic conversations, English and Chinese.

Thoughts stay short on purpose: the embedded model has 135M parameters, and every token of a thought is a token it
must learn to produce before the action that matters. Several phrasings per slot keep it from memorising one.
"""

from __future__ import annotations

# --- Thoughts before a tool call ({name}: the tool, {purpose}: "get the weather for a city") -----------------
CALL = {
    # The decision comes first (the tool's name in the first words), the reason after: a no-call thought starts
    # differently ("No ...", "None ..."), so the model commits to calling or not before it restates the request.
    'en': (
        'I will use {name} to {purpose}.',
        '{name} fits this request.',
        'I should use {name} for this.',
        '{name} can {purpose}; I will call it.',
        'I will call {name} with the values from the request.',
        'Calling {name} to {purpose}.',
        'Let me call {name}.',
    ),
    'zh': (
        '我需要调用 {name} 来完成这个请求。',
        '用户的请求可以用 {name} 完成。',
        '这个问题需要使用 {name}。',
        '我应该调用 {name}，参数来自用户的问题。',
        '调用 {name} 即可。',
    ),
}
CALL_NEXT = {
    'en': (
        'Next, I will use {name} for the other part.',
        'Now I need {name} for the second request.',
        'One more call: {name}.',
        'I also need to {purpose}, so I will call {name}.',
        'Now I will call {name}.',
    ),
    'zh': (
        '接下来调用 {name} 处理另一部分。',
        '还需要调用 {name}。',
        '然后使用 {name} 完成第二个请求。',
    ),
}
CALL_CHAIN = {
    'en': (
        'Now I use that result with {name}.',
        'With this result, I will call {name}.',
        'Next I need {name}, using the previous result.',
    ),
    'zh': (
        '利用上一步的结果，调用 {name}。',
        '接下来用这个结果调用 {name}。',
    ),
}
FINISH = {
    'en': (
        'I have the result.',
        'I now know the final answer.',
        'The tool returned what I need.',
        'I have everything I need to answer.',
        'That answers the question.',
    ),
    'zh': (
        '我已经得到结果了。',
        '现在我知道最终答案了。',
        '工具返回了需要的信息。',
    ),
}
FINISH_MULTI = {
    'en': ('I have all the results.', 'Both parts are answered now.', 'I now have every answer.'),
    'zh': ('所有结果都有了。', '两个问题都已经有答案了。'),
}

# --- Answers without tools ------------------------------------------------------------------------------------
NO_TOOL_THOUGHT = {
    'en': (
        'This does not need a tool.',
        'I can answer this directly; no tool is needed.',
        'None of the tools is needed for this.',
        'This is general knowledge, so I will answer directly.',
        'No tool call is required here.',
    ),
    'zh': ('这个问题不需要使用工具。', '我可以直接回答，不需要调用工具。', '这是常识问题，直接回答即可。'),
}
CHAT_THOUGHT = {
    'en': ('The user is just chatting; no tool is needed.', 'This is small talk, so I will reply directly.'),
    'zh': ('用户只是在闲聊，不需要工具。', '这是寒暄，直接回复即可。'),
}
UNAVAILABLE_THOUGHT = {
    'en': (
        'No offered tool can {purpose}.',
        'None of the tools fits this request.',
        'None of the offered tools can {purpose}.',
        'No tool here can {purpose}, so I will answer without one.',
        'No available tool can do this.',
    ),
    'zh': ('现有的工具都不能完成这个请求。', '没有可以完成这个任务的工具。', '提供的工具与这个请求无关。'),
}
UNAVAILABLE_ANSWER = {
    'en': (
        "Sorry, I can't {purpose} with the tools I have.",
        'I do not have a tool to {purpose}, so I cannot do that here.',
        "None of my available tools can {purpose}. I'm unable to help with that right now.",
        "I'm sorry, but that is not something my current tools can do.",
        'Unfortunately, no available tool can {purpose}.',
    ),
    'zh': ('抱歉，我现有的工具无法完成这个请求。', '对不起，没有可以完成这个任务的工具，我暂时帮不了你。',
           '很抱歉，当前提供的工具不支持这个操作。'),
}

# --- Asking for a missing value -------------------------------------------------------------------------------
# The purpose comes first or after an unusual opener: "I'd like to" + "calculate the area of a" is the opening of
# many benchmark questions, and generated requests must share no 8-word run with BFCL's.
VAGUE_REQUEST = {
    'en': ('{Purpose}, please.', 'Task for you: {purpose}.', 'Need a hand: {purpose}.', '{Purpose}? Can you do that?',
           'Could you {purpose} for me?'),
    'zh': ('你能帮我{purpose}吗？', '我想{purpose}。', '请帮我{purpose}。'),
}
ASK_THOUGHT = {
    'en': ('{name} needs the {missing}, which the user did not give.',
           'I need the {missing} before I can call {name}.',
           'The request is missing the {missing}.'),
    'zh': ('调用 {name} 还缺少 {missing}。', '用户没有提供 {missing}，需要先询问。'),
}
ASK_ANSWER = {
    'en': ('Sure. What {missing} should I use?', 'I can do that. Could you tell me the {missing}?',
           'Happy to help. Please give me the {missing}.', 'Which {missing} do you mean?'),
    'zh': ('好的，请告诉我{missing}。', '可以，请问{missing}是什么？', '没问题，需要你提供{missing}。'),
}
GIVE_VALUES = {
    'en': ('{values}.', 'Use {values}.', 'Sure: {values}.', '{values}, please.'),
    'zh': ('{values}。', '用{values}。', '好的，{values}。'),
}

# --- Joining two requests (multi-call) and two answers ---------------------------------------------------------
JOIN_REQUESTS = {
    'en': ('{a} Also, {b}', '{a} And {b}', '{a}\n{b}', 'Two things. {a} {b}', '{a} After that: {b}'),
    'zh': ('{a}另外，{b}', '{a}还有，{b}', '{a}\n{b}'),
}
JOIN_ANSWERS = {'en': ('{a} {b}', '{a} Also, {b}', '{a}\n{b}'), 'zh': ('{a}{b}', '{a}另外，{b}')}

# --- tflan: the format taught piece by piece (the instructor's questions) --------------------------------------
TF_WHICH_TOOL = {
    'en': ('Which tool should be called for this request? Reply with the tool name only.',
           'Name the tool that fits this request, and nothing else.',
           'Before answering, which of the available tools do you need? Give just its name.',
           'First step: which tool will you call? Answer with its exact name.'),
    'zh': ('这个请求应该调用哪个工具？只回答工具名称。', '请只给出需要调用的工具名称。'),
}
TF_WHICH_PARAMS = {
    'en': ('Which parameters of {name} does the request give values for? List their names.',
           'List the parameter names you will pass to {name}.',
           'Which arguments will the call to {name} include? Names only, comma-separated.'),
    'zh': ('调用 {name} 需要传哪些参数？只列出参数名。', '请列出要传给 {name} 的参数名。'),
}
TF_PARAM_TYPE = {
    'en': ('What type does {name} expect for {param}?', 'In {name}, what is the type of {param}?'),
    'zh': ('{name} 的参数 {param} 是什么类型？',),
}
TF_PARAM_VALUE = {
    'en': ('What value should {param} take? Give it as JSON.', 'Which value goes into {param}? Answer in JSON.'),
    'zh': ('参数 {param} 应该取什么值？用 JSON 表示。',),
}
TF_ARGS = {
    'en': ('Write the Action Input for {name} as a JSON object.', 'Give only the JSON arguments for {name}.',
           'Now the arguments: a JSON object with the parameter names as keys.'),
    'zh': ('请用 JSON 对象写出 {name} 的 Action Input。', '只给出调用 {name} 的 JSON 参数。'),
}
TF_FULL = {
    'en': ('Now reply in the required format.', 'Write the complete step in the format from the system prompt.',
           'Now give your full reply: Thought, Action and Action Input.', 'Put it together in the required format.'),
    'zh': ('现在按照要求的格式回复。', '请按照系统提示中的格式给出完整回复。'),
}
TF_NEED_TOOL = {
    'en': ('Do you need one of the available tools for this request? Answer yes or no.',
           'Can any available tool handle this request? Reply yes or no.'),
    'zh': ('这个请求需要使用可用的工具吗？回答是或否。',),
}
TF_YES = {'en': ('Yes, {name}.', 'Yes: {name}.'), 'zh': ('是，需要 {name}。',)}
TF_NO = {'en': ('No.', 'No, no tool is needed.', 'No. None of the tools fits.'), 'zh': ('否。', '不需要。')}
TF_FINISH_FULL = {
    'en': ('Now give the final answer in the required format.', 'Reply in the required format.'),
    'zh': ('请按照要求的格式给出最终答案。',),
}

# Type words a model reads in the system prompt (Lagent's) -> the answer a tflan type question expects.
TYPE_ANSWER = {
    'en': {'integer': 'integer', 'number': 'float (a number)', 'string': 'string', 'boolean': 'boolean (true or false)',
           'array': 'array (a JSON list)', 'object': 'object (a JSON dictionary)'},
    'zh': {'integer': '整数', 'number': '浮点数', 'string': '字符串', 'boolean': '布尔值（true 或 false）',
           'array': '数组（JSON 列表）', 'object': '对象（JSON 字典）'},
}

# Generic final answers from a result, when a function has no authored answer.
RESULT_ONE = {'en': ('The {label} is {value}.', '{Label}: {value}.'), 'zh': ('{label}是 {value}。',)}
RESULT_MANY = {'en': ('Here is the result: {pairs}.', 'Done. {pairs}.', 'Result: {pairs}.'),
               'zh': ('结果：{pairs}。', '查询结果如下：{pairs}。')}
PLAIN_OUTPUT = {'en': ('The result is {output}.', 'The output is {output}.', 'It printed {output}.'),
                'zh': ('结果是 {output}。', '输出是 {output}。')}
