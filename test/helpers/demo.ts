/** The demo ext keys of config/demo/tenants.yaml (the SOAJS example03 walkthrough's keys). */
export const DEMO_KEYS = Object.freeze({
  EXAMP_BASIC:
    '4ea5db4c70b6168aeede6a8a56cb4624efdb6cb2cf3c7b88cbc1f5d97080a44f18083fa195e20dcc0b42496ae268ea91c657dd9b252b72de14c862e64f8522a9dbdaa1ce0f48ba2d5ed5eff49b47d0f728bddb2080c8cbc7bde3771116192b51',
  EXAMP_3ZE08:
    '4ea5db4c70b6168aeede6a8a56cb46246ca38b1b4f801f090d5821bd76b339e34b8ddb9ac2cb7ffee220cf3e463ac9cdf3902e91720c8f56684d7d88287affc0092eeb37648e7bde4f565f509b1b384127022bc2c1c1581f4ba50e28564d1c5c',
  EXAMP_4H6CQ:
    '4ea5db4c70b6168aeede6a8a56cb4624079ff72a87d5174f5d880d546f326077dd82b8131322c2a5dbc02edec9d5ad7bfbfcf3730c2205850ffe7644e259ad2ee20280d25a1cfecdb7a62992920d2155cb30edffb6e53d49c528cc2e1ae54a6e',
  TNT1_A:
    '4232477ed993d167ec13ccf8836c29c400fef7eb3d175b1f2192b82ebef6fb2d129cdd25fe23c04f856157184e11f7f57b65759191908cb5c664df136c7ad16a56a5917fdeabfc97c92a1f199e457e31f2450a810769ff1b29269bcb3f01e3d2',
  TNT1_B:
    '4232477ed993d167ec13ccf8836c29c4bfbe701cb0af991389cb3b3a06dcd2bbceb8895a67de8b3861eed616d441a673ae6d85a9d9a6491e1d4ea059e0ce4e969b26db39dfb74d9837adb632b75f77439bf072b1cd4876a0107a813dc1ea00d7',
  TNT2:
    '2423205b6ccd825aaa3dbf7f248f807996c1f39f4e128801107a10ea55eac9686f23b883b778b1763876fe47f7cc651fea232f7aa9dae3dfd1978d4948a3f26b948ebc1b71a9d6cacf08852312866d757b22392d8d3c0e28ee47edb0e7478157',
  TNT3:
    '7bc1e66d003a3b2acfce1557cbda7320ec45057be0505fd7e9dec19e9fe74c194b109a48568f53449c1cc607a3cb23d70de86831a2ac4b87f1c0c5d57d19702a74ac22a64531185af11f75967f9ba54cb930149ed8a1384f924be9baa4ed5b0b',
});

export const OWNER_KEY =
  '43d22186b6138dbe315fb0388ed3089644d0e5d879a0b8052db1f5afce504114cb27f06a93c414de022174bf40505ead9e9a2f00346ec56b379e0b4dbaf793b4';

export const TNT1_ID = '54ee2150b7a669fc22b7f6b9';
export const TNT2_ID = '54ee28cc203674ba271d57a4';

export interface TokenPair {
  token_type: string;
  access_token: string;
  expires_in: number;
  refresh_token: string;
}

/** `POST /oauth/token` with a form body, as the SOAJS walkthrough's curl does. */
export async function login(base: string, key: string, username: string, password: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  return request(base, '/oauth/token', {
    method: 'POST',
    headers: { key, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, grant_type: 'password' }).toString(),
  });
}

export async function request(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body, headers: res.headers };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body, headers: res.headers };
}

export function soajsError(code: number, message: string) {
  return { result: false, errors: { codes: [code], details: [{ code, message }] } };
}
