// The page's two languages. The first visit follows navigator.language; the button
// switches, and the choice is remembered in localStorage.

const KEY = 'planner.lang';

const WORDS = {
  en: {
    title: 'Travel planner',
    skipToContent: 'Skip to content',
    switchLang: '中文',
    switchLangLabel: 'Switch to Chinese',
    newTrip: 'New trip',
    apiKey: 'API key',
    keyTitle: 'Your API key',
    keyHelp: 'This service needs an API key. It is kept for this browser session only.',
    keyLabel: 'API key',
    keySave: 'Use this key',
    keyForget: 'Forget the key',
    keyRefused: 'The API key was refused: {message}',
    keyNeeded: 'Enter an API key to plan trips.',
    describeTitle: 'Plan a trip',
    queryLabel: 'Describe your trip (Chinese or English)',
    queryPlaceholder: 'e.g. 3 days in Hangzhou for 2, budget 3000 CNY, food and nature',
    detailsTitle: 'Or fill in the details (they win over the text)',
    destination: 'Destination',
    anyDestination: '— from text —',
    startDate: 'Start date',
    days: 'Days',
    travelers: 'Travelers',
    budget: 'Budget',
    currency: 'Currency',
    interests: 'Interests',
    pace: 'Pace',
    paceAny: '— any —',
    pace_relaxed: 'Relaxed',
    pace_moderate: 'Moderate',
    pace_packed: 'Packed',
    interest_food: 'Food',
    interest_nature: 'Nature',
    interest_history: 'History',
    interest_culture: 'Culture',
    interest_art: 'Art',
    interest_shopping: 'Shopping',
    interest_nightlife: 'Nightlife',
    interest_family: 'Family',
    interest_photography: 'Photography',
    requireApproval: 'Ask me before finalising',
    submit: 'Plan my trip',
    submitting: 'Submitting…',
    emptyRequest: 'Describe the trip or choose a destination.',
    refused: 'The planner refused the request: {message}',
    refusedField: 'The planner refused the request ({field}): {message}',
    networkError: 'The planner cannot be reached: {message}',
    recentTitle: 'Your recent plans',
    recentEmpty: 'No plans yet.',
    refresh: 'Refresh',
    notFound: 'This plan does not exist (or is not yours).',
    yourRequest: 'Your request',
    status_queued: 'Queued',
    status_running: 'Planning',
    status_awaiting_approval: 'Awaiting your approval',
    status_succeeded: 'Ready',
    status_failed: 'Failed',
    status_cancelled: 'Cancelled',
    status_rejected: 'Rejected',
    progressTitle: 'Planning, live',
    progressLog: 'Every step',
    approve: 'Approve',
    reject: 'Reject',
    cancel: 'Cancel',
    retry: 'Try again',
    downloadMd: 'Download Markdown',
    downloadJson: 'Download JSON',
    waitsBecause: 'This plan waits for your approval: {reason}',
    failedBecause: 'The plan failed: {message}',
    failedAfter: 'The plan failed after {attempts} attempts: {cause}.',
    err_timeout: '{step} took longer than {seconds} s',
    waitReason_queued: 'Waiting in the queue ({ahead} ahead).',
    waitReason_owner_quota: 'Waiting: you already have {running} of {cap} plans running.',
    waitReason_backoff: 'An attempt failed; the next one starts at {until}.',
    waitReason_upstream_wait: 'Waiting for an upstream service ({provider}) until {until}.',
    waitReason_scheduled: 'Scheduled to be planned at {until}.',
    waitReason_other: 'Waiting ({reason}).',
    step_understand: 'Reading your request',
    step_weather: 'Checking the weather',
    step_places: 'Finding places to see and eat',
    step_lodging: 'Finding lodging',
    step_routes: 'Working out travel times',
    step_draft: 'Drafting the itinerary',
    step_check: 'Checking the draft against your limits',
    step_approval: 'Seeing whether you need to approve',
    step_finalize: 'Writing up the plan',
    ev_queued: 'Queued.',
    ev_started: 'Attempt {attempt} started.',
    ev_rescued: 'A worker was lost; picking up where it stopped.',
    ev_rescued_stuck: 'The plan was stuck; it goes back to the queue.',
    ev_node_started: '{step}…',
    ev_node_finished: '{step}: done.',
    ev_timeout: '{step} took longer than {seconds} s and timed out.',
    ev_timeout_plan: 'The whole run took longer than {seconds} s and timed out.',
    ev_retry_scheduled: 'Something went wrong ({message}); trying again at {time}.',
    ev_retry_because: '{cause}; trying again at {time}.',
    ev_waiting_for_upstream: 'Waiting for an upstream service ({message}) until {time}.',
    ev_handed_back: 'The worker shut down; the plan went back to the queue.',
    ev_awaiting_approval: 'Waiting for your approval: {reason}',
    ev_approved: 'Approved.',
    ev_rejected: 'Rejected.',
    ev_succeeded: 'The plan is ready.',
    ev_cancelled: 'Cancelled.',
    ev_cancel_requested: 'Cancelling…',
    ev_retry_requested: 'Trying again.',
    ev_other: '{kind}',
    reconnecting: 'Connection lost; reconnecting…',
    day: 'Day {n}',
    lodging: 'Lodging',
    dayCost: 'Day total',
    weather: 'Weather',
    kind_attraction: 'Sight',
    kind_meal: 'Meal',
    kind_transfer: 'Transfer',
    kind_free: 'Free time',
    minutes: '{n} min',
    travelLeg: '{mode} {n} min',
    mode_walk: 'walk',
    mode_walking: 'walk',
    mode_taxi: 'taxi',
    mode_transit: 'transit',
    mode_metro: 'metro',
    mode_bus: 'bus',
    mode_drive: 'drive',
    mode_driving: 'drive',
    mode_bike: 'bike',
    free: 'free',
    costsTitle: 'Costs',
    cost_lodging: 'Lodging',
    cost_food: 'Food',
    cost_tickets: 'Tickets',
    cost_transport: 'Transport',
    cost_total: 'Total',
    budgetLine: 'Budget {budget}',
    withinBudget: 'Within budget: {left} left.',
    overBudget: 'Over budget by {over}.',
    noBudget: 'No budget given.',
    tipsTitle: 'Tips',
    warningsTitle: 'Warnings',
    sourcesTitle: 'Sources',
    source_weather: 'Weather',
    source_places: 'Places',
    source_lodging: 'Lodging',
    source_routes: 'Routes',
    source_draft: 'Itinerary',
    provider_embedded: 'built-in data',
    provider_estimated: 'estimated',
    provider_normals: 'climate normals',
    routeLabel: 'Route sketch of day {n}',
    travelersN: '{n} travelers',
    daysN: '{n} days',
    loading: 'Loading…',
    created: 'Created {at}',
  },
  zh: {
    title: '旅行规划',
    skipToContent: '跳到主要内容',
    switchLang: 'English',
    switchLangLabel: '切换到英文',
    newTrip: '新行程',
    apiKey: 'API 密钥',
    keyTitle: '你的 API 密钥',
    keyHelp: '本服务需要 API 密钥，仅在本次浏览器会话中保存。',
    keyLabel: 'API 密钥',
    keySave: '使用此密钥',
    keyForget: '清除密钥',
    keyRefused: 'API 密钥被拒绝：{message}',
    keyNeeded: '请输入 API 密钥后再规划行程。',
    describeTitle: '规划行程',
    queryLabel: '描述你的行程（中文或英文）',
    queryPlaceholder: '例如：杭州3天2晚，两个人，预算3000元，喜欢美食和自然风光',
    detailsTitle: '或填写详细信息（优先于文字描述）',
    destination: '目的地',
    anyDestination: '— 按描述 —',
    startDate: '出发日期',
    days: '天数',
    travelers: '人数',
    budget: '预算',
    currency: '币种',
    interests: '兴趣',
    pace: '节奏',
    paceAny: '— 不限 —',
    pace_relaxed: '轻松',
    pace_moderate: '适中',
    pace_packed: '紧凑',
    interest_food: '美食',
    interest_nature: '自然',
    interest_history: '历史',
    interest_culture: '文化',
    interest_art: '艺术',
    interest_shopping: '购物',
    interest_nightlife: '夜生活',
    interest_family: '亲子',
    interest_photography: '摄影',
    requireApproval: '定稿前先让我确认',
    submit: '开始规划',
    submitting: '提交中…',
    emptyRequest: '请描述行程或选择目的地。',
    refused: '规划服务拒绝了请求：{message}',
    refusedField: '规划服务拒绝了请求（{field}）：{message}',
    networkError: '无法连接规划服务：{message}',
    recentTitle: '最近的行程',
    recentEmpty: '还没有行程。',
    refresh: '刷新',
    notFound: '该行程不存在（或不属于你）。',
    yourRequest: '你的需求',
    status_queued: '排队中',
    status_running: '规划中',
    status_awaiting_approval: '等待你确认',
    status_succeeded: '已完成',
    status_failed: '失败',
    status_cancelled: '已取消',
    status_rejected: '已拒绝',
    progressTitle: '实时进度',
    progressLog: '每一步',
    approve: '确认',
    reject: '拒绝',
    cancel: '取消',
    retry: '重试',
    downloadMd: '下载 Markdown',
    downloadJson: '下载 JSON',
    waitsBecause: '该行程等待你确认：{reason}',
    failedBecause: '规划失败：{message}',
    failedAfter: '尝试 {attempts} 次后规划失败：{cause}。',
    err_timeout: '{step}超过 {seconds} 秒未完成',
    waitReason_queued: '排队中（前面还有 {ahead} 个）。',
    waitReason_owner_quota: '等待中：你已有 {running}/{cap} 个行程在规划。',
    waitReason_backoff: '上一次尝试失败，将于 {until} 重试。',
    waitReason_upstream_wait: '等待上游服务（{provider}）恢复，直到 {until}。',
    waitReason_scheduled: '计划于 {until} 开始规划。',
    waitReason_other: '等待中（{reason}）。',
    step_understand: '理解你的需求',
    step_weather: '查询天气',
    step_places: '寻找景点和餐厅',
    step_lodging: '寻找住宿',
    step_routes: '计算交通时间',
    step_draft: '起草行程',
    step_check: '核对行程约束',
    step_approval: '判断是否需要你确认',
    step_finalize: '生成最终行程',
    ev_queued: '已排队。',
    ev_started: '第 {attempt} 次尝试开始。',
    ev_rescued: '处理进程中断，从中断处继续。',
    ev_rescued_stuck: '行程卡住了，已重新排队。',
    ev_node_started: '{step}…',
    ev_node_finished: '{step}：完成。',
    ev_timeout: '{step}超过 {seconds} 秒，已超时。',
    ev_timeout_plan: '整个规划超过 {seconds} 秒，已超时。',
    ev_retry_scheduled: '出了点问题（{message}），将于 {time} 重试。',
    ev_retry_because: '{cause}，将于 {time} 重试。',
    ev_waiting_for_upstream: '等待上游服务（{message}），直到 {time}。',
    ev_handed_back: '处理进程关闭，行程已重新排队。',
    ev_awaiting_approval: '等待你确认：{reason}',
    ev_approved: '已确认。',
    ev_rejected: '已拒绝。',
    ev_succeeded: '行程已完成。',
    ev_cancelled: '已取消。',
    ev_cancel_requested: '正在取消…',
    ev_retry_requested: '重新规划。',
    ev_other: '{kind}',
    reconnecting: '连接中断，正在重连…',
    day: '第 {n} 天',
    lodging: '住宿',
    dayCost: '当日花费',
    weather: '天气',
    kind_attraction: '景点',
    kind_meal: '用餐',
    kind_transfer: '交通',
    kind_free: '自由活动',
    minutes: '{n} 分钟',
    travelLeg: '{mode} {n} 分钟',
    mode_walk: '步行',
    mode_walking: '步行',
    mode_taxi: '打车',
    mode_transit: '公共交通',
    mode_metro: '地铁',
    mode_bus: '公交',
    mode_drive: '驾车',
    mode_driving: '驾车',
    mode_bike: '骑行',
    free: '免费',
    costsTitle: '费用',
    cost_lodging: '住宿',
    cost_food: '餐饮',
    cost_tickets: '门票',
    cost_transport: '交通',
    cost_total: '合计',
    budgetLine: '预算 {budget}',
    withinBudget: '在预算内：剩余 {left}。',
    overBudget: '超出预算 {over}。',
    noBudget: '未设预算。',
    tipsTitle: '小贴士',
    warningsTitle: '注意事项',
    sourcesTitle: '数据来源',
    source_weather: '天气',
    source_places: '景点',
    source_lodging: '住宿',
    source_routes: '路线',
    source_draft: '行程',
    provider_embedded: '内置数据',
    provider_estimated: '估算',
    provider_normals: '气候常年值',
    routeLabel: '第 {n} 天路线示意',
    travelersN: '{n} 人',
    daysN: '{n} 天',
    loading: '加载中…',
    created: '创建于 {at}',
  },
};

let current = initial();

function initial() {
  const saved = safeGet();
  if (saved === 'zh' || saved === 'en') return saved;
  return (navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

function safeGet() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function lang() {
  return current;
}

export function setLang(next) {
  current = next === 'zh' ? 'zh' : 'en';
  try {
    localStorage.setItem(KEY, current);
  } catch {
    // Private mode: the choice lasts this page only.
  }
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

/** The phrase `key` in the current language, `{name}` filled from `params`. */
export function t(key, params) {
  const phrase = WORDS[current][key] ?? WORDS.en[key] ?? key;
  return phrase.replace(/\{(\w+)\}/g, (_, name) => (params && params[name] !== undefined ? String(params[name]) : ''));
}

/** Whether `key` has a phrase (for codes the API may add later). */
export function has(key) {
  return key in WORDS.en;
}

/** Fills every `data-i18n` element's text and `data-i18n-placeholder` / `-label` attribute. */
export function translateStatic(root = document) {
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  document.title = t('title');
}

export function money(amount, currency) {
  if (typeof amount !== 'number') return '—';
  try {
    return new Intl.NumberFormat(current === 'zh' ? 'zh-CN' : 'en', {
      style: 'currency',
      currency,
      maximumFractionDigits: 0,
    }).format(amount);
  } catch {
    return `${Math.round(amount)} ${currency}`;
  }
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleTimeString(current === 'zh' ? 'zh-CN' : 'en', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** A moment to come: its time of day (to the second) when it is today, else date and time. */
export function when(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return dateTime(iso);
  return d.toDateString() === new Date().toDateString() ? time(iso) : dateTime(iso);
}

export function dateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(current === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
}
